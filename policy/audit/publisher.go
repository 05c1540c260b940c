package audit

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"
)

// maintainInterval is the least time between two saves of the publish
// cursor; each save is a spool transaction that waits for the disk. A lost
// save only makes the next run send a few events again, which Redis skips.
const maintainInterval = time.Second

// publisher is the state of the publisher goroutine; only that goroutine
// touches it.
type publisher struct {
	p *Pipeline

	// cursor is the highest seq known to be in the stream: the next batch
	// starts after it. floor is the lowest watermark Redis may report
	// without having lost entries; it is below cursor only after lost
	// entries were declared and skipped.
	cursor uint64
	floor  uint64

	highestSent  uint64 // highest seq ever sent, for the replayed counter
	declaredLost uint64 // end of the last lost range declared
	reconcile    bool   // compare Redis's watermark before the next batch
	aheadLogged  bool   // the watermark-ahead error was logged
	readFailing  bool   // the last spool read failed and was logged
	state        redisState
	downSince    time.Time
	backoff      time.Duration

	checkpoints []checkpoint // publish times, for the retention window
	savedCursor uint64
	lastSave    time.Time
	batch       packedBatch
}

// checkpoint records that all seqs up to seq were in the stream at time at.
type checkpoint struct {
	seq uint64
	at  time.Time
}

type redisState int

const (
	redisUnknown redisState = iota
	redisUp
	redisDown
)

// errBehind reports that Redis holds fewer entries than were published.
var errBehind = errors.New("redis watermark is below the published seq")

// runPublisher sends spooled events to Redis until Close requests the
// final flush.
func (p *Pipeline) runPublisher() {
	defer close(p.pubDone)

	pub := &publisher{
		p:           p,
		cursor:      p.startCursor,
		floor:       p.startCursor,
		highestSent: p.startCursor,
		reconcile:   true,
		checkpoints: []checkpoint{{seq: p.startCursor, at: p.cfg.Now()}},
		savedCursor: p.startCursor,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	for {
		select {
		case final := <-p.finalFlush:
			cancel()
			pub.flush(final)
			return
		default:
		}

		n, err := pub.step(ctx)
		pub.maintain(false)

		var wait <-chan time.Time
		switch {
		case errors.Is(err, errBehind):
			continue // reconcile at once
		case err != nil:
			wait = time.After(pub.nextBackoff())
		case n > 0:
			continue
		default:
			pub.backoff = 0
			wait = time.After(p.cfg.PollInterval)
		}

		select {
		case <-wait:
		case <-p.notify:
		case final := <-p.finalFlush:
			cancel()
			pub.flush(final)
			return
		}
	}
}

// step publishes one batch. It returns the number of events sent.
func (pub *publisher) step(ctx context.Context) (int, error) {
	p := pub.p
	if pub.reconcile {
		if err := pub.reconcileWatermark(ctx); err != nil {
			pub.markDown(err)
			return 0, err
		}
	}

	batch := &pub.batch
	if err := p.spool.readPacked(pub.cursor, p.cfg.BatchSize, batch); err != nil {
		if !pub.readFailing {
			pub.readFailing = true
			p.log.Error("reading the audit spool failed; retrying", zap.String("spool", p.spool.path), zap.Error(err))
		}
		return 0, err
	}
	pub.readFailing = false
	if batch.count == 0 {
		p.counters.oldestUnpublished.Store(0)
		return 0, nil
	}
	p.counters.oldestUnpublished.Store(batch.firstAt)

	callCtx, cancel := context.WithTimeout(ctx, p.cfg.RedisTimeout)
	res, err := p.sendBatch(callCtx, batch, pub.floor)
	cancel()
	if err != nil {
		// The batch may or may not have been applied: check Redis's
		// watermark before sending again.
		pub.reconcile = true
		pub.markDown(err)
		return 0, err
	}
	pub.markUp()

	first, last := batch.first, batch.last
	if first <= pub.highestSent {
		p.counters.replayed.Add(min(pub.highestSent, last) - first + 1)
	}
	pub.highestSent = max(pub.highestSent, last)

	if res.behind {
		// Nothing was added; reconcileWatermark logs and rewinds.
		pub.reconcile = true
		return 0, errBehind
	}
	if res.watermark > last && !pub.aheadLogged {
		pub.aheadLogged = true
		p.log.Error("redis audit watermark is ahead of the local spool; another process may use this instance id",
			zap.String("instance", p.instance), zap.Uint64("watermark", res.watermark), zap.Uint64("last_sent", last))
	}

	p.counters.published.Add(uint64(res.added))
	pub.advance(last)
	return batch.count, nil
}

// advance records that all seqs up to seq are in the stream. Publishes
// within one checkpoint granularity share a checkpoint, which keeps the
// time of the first of them.
func (pub *publisher) advance(seq uint64) {
	pub.cursor, pub.floor = seq, seq
	pub.p.counters.cursor.Store(seq)
	now := pub.p.cfg.Now()
	if n := len(pub.checkpoints); n > 0 && now.Sub(pub.checkpoints[n-1].at) < pub.granularity() {
		pub.checkpoints[n-1].seq = seq
	} else {
		pub.checkpoints = append(pub.checkpoints, checkpoint{seq: seq, at: now})
	}
}

// granularity is the time span one checkpoint covers: a tenth of the
// retention, at most a second.
func (pub *publisher) granularity() time.Duration {
	return min(time.Second, pub.p.cfg.Retention/10)
}

// reconcileWatermark reads Redis's watermark for this instance and moves
// the cursor to it. When Redis lost entries it rewinds, so that they are
// sent again from the spool. Entries already pruned from the spool are
// declared by an events_lost event instead.
func (pub *publisher) reconcileWatermark(ctx context.Context) error {
	p := pub.p
	callCtx, cancel := context.WithTimeout(ctx, p.cfg.RedisTimeout)
	wm, err := p.readWatermark(callCtx)
	cancel()
	if err != nil {
		return err
	}

	lastSeq := p.counters.lastSeq.Load()
	switch {
	case wm > lastSeq:
		pub.aheadLogged = true
		p.log.Error("redis audit watermark is ahead of the local spool; another process may use this instance id",
			zap.String("instance", p.instance), zap.Uint64("watermark", wm), zap.Uint64("last_seq", lastSeq))
		pub.cursor, pub.floor = lastSeq, wm
	case wm >= pub.cursor:
		pub.cursor, pub.floor = wm, wm
	default:
		if err := pub.rewind(wm); err != nil {
			return err
		}
	}
	pub.clampCheckpoints()
	p.counters.cursor.Store(pub.cursor)
	pub.reconcile = false
	return nil
}

// rewind moves the cursor back to Redis's watermark wm after Redis lost
// the entries above it.
func (pub *publisher) rewind(wm uint64) error {
	p := pub.p
	first, err := p.spool.firstSeq()
	if err != nil {
		return err
	}
	p.log.Warn("redis lost audit entries; re-sending them from the spool",
		zap.String("instance", p.instance), zap.Uint64("watermark", wm),
		zap.Uint64("published_seq", pub.cursor), zap.Uint64("spool_first_seq", first))

	// Entries from wm+1 up to the first one still spooled are gone for good.
	lostTo := pub.cursor
	if first != 0 && first-1 < lostTo {
		lostTo = first - 1
	}
	if lostTo <= wm {
		pub.cursor, pub.floor = wm, wm
		return nil
	}
	if lostTo > pub.declaredLost {
		from := max(wm, pub.declaredLost) + 1
		ev := p.noteEvent(ReasonEventsLost, formatSeqRange(from, lostTo))
		if err := p.appendEvents([]*Event{ev}, declareNone); err != nil {
			return err
		}
		pub.declaredLost = lostTo
		p.log.Error("audit entries lost from redis are no longer in the spool; declared them in an events_lost event",
			zap.String("instance", p.instance), zap.Uint64("from_seq", from), zap.Uint64("to_seq", lostTo))
	}
	pub.cursor, pub.floor = lostTo, wm
	return nil
}

// clampCheckpoints keeps checkpoints from covering seqs above the cursor
// after a rewind, so pruning never deletes events Redis no longer has.
func (pub *publisher) clampCheckpoints() {
	for i := range pub.checkpoints {
		pub.checkpoints[i].seq = min(pub.checkpoints[i].seq, pub.cursor)
	}
}

// maintain stores the cursor and prunes events published more than
// Retention ago, at most once per maintainInterval unless force is set.
func (pub *publisher) maintain(force bool) {
	p := pub.p
	now := p.cfg.Now()
	if !force && now.Sub(pub.lastSave) < maintainInterval {
		return
	}
	pub.lastSave = now

	// A checkpoint's last publish may be up to one granularity after its
	// time, so it expires that much later.
	var pruneTo uint64
	keep := pub.checkpoints[:0]
	for _, cp := range pub.checkpoints {
		if now.Sub(cp.at) >= p.cfg.Retention+pub.granularity() {
			pruneTo = max(pruneTo, cp.seq)
		} else {
			keep = append(keep, cp)
		}
	}
	pub.checkpoints = keep
	pruneTo = min(pruneTo, pub.cursor)
	if pruneTo == 0 && pub.cursor == pub.savedCursor {
		return
	}

	more, size, err := p.spool.saveCursor(pub.cursor, pruneTo)
	if err != nil {
		p.log.Error("saving the audit publish cursor failed", zap.String("spool", p.spool.path), zap.Error(err))
		return
	}
	pub.savedCursor = pub.cursor
	p.counters.spoolBytes.Store(size)
	if more {
		// More to prune: keep a checkpoint so the next call continues.
		pub.checkpoints = append([]checkpoint{{seq: pruneTo, at: now.Add(-p.cfg.Retention - pub.granularity())}}, pub.checkpoints...)
	}
}

// flush publishes until the spool is caught up or ctx is done, then stores
// the cursor. Without a deadline in ctx it stops at the first failure.
func (pub *publisher) flush(ctx context.Context) {
	_, hasDeadline := ctx.Deadline()
	for ctx.Err() == nil {
		n, err := pub.step(ctx)
		if errors.Is(err, errBehind) {
			continue
		}
		if err != nil && !hasDeadline {
			break
		}
		if err != nil {
			select {
			case <-time.After(pub.nextBackoff()):
			case <-ctx.Done():
			}
			continue
		}
		if n == 0 {
			break
		}
	}
	pub.maintain(true)
}

// nextBackoff doubles the delay from MinBackoff up to MaxBackoff and
// returns it with up to half of it taken off at random, so that gateways
// that lost Redis together do not reconnect together.
func (pub *publisher) nextBackoff() time.Duration {
	cfg := pub.p.cfg
	pub.backoff = min(max(pub.backoff*2, cfg.MinBackoff), cfg.MaxBackoff)
	half := int64(pub.backoff / 2)
	return time.Duration(half + rand.Int64N(half+1))
}

// markDown logs the first failure after Redis was up or unknown.
func (pub *publisher) markDown(err error) {
	p := pub.p
	p.counters.redisUp.Store(false)
	if pub.state == redisDown {
		return
	}
	pub.state = redisDown
	pub.downSince = p.cfg.Now()
	p.log.Warn("audit stream unavailable; spooling events until redis returns",
		zap.String("stream", p.stream), zap.Error(err))
}

// markUp logs the return of Redis after a failure.
func (pub *publisher) markUp() {
	p := pub.p
	p.counters.redisUp.Store(true)
	if pub.state == redisDown {
		p.log.Info("audit stream available again; draining the spool",
			zap.String("stream", p.stream), zap.Duration("down_for", p.cfg.Now().Sub(pub.downSince)))
	}
	pub.state = redisUp
	pub.backoff = 0
}
