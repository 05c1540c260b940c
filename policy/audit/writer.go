package audit

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/awra/awragate/policy"
	"go.uber.org/zap"
)

// Writer polling. A channel send that finds the writer blocked in a
// receive must wake it, which costs the sending request a few
// microseconds. So after the first event the writer polls the queue every
// writerPoll until it has been empty for writerIdlePolls polls, and only
// then blocks in a receive again. During a burst, senders only fill the
// buffer. Polling adds at most writerPoll of delay before an event is
// spooled.
const (
	writerPoll      = time.Millisecond
	writerIdlePolls = 50
)

// writerYieldEvery is the number of events the writer chains and packs
// before it lets requests run. Go preempts a running goroutine only after
// 10 ms. By our estimate from an execution trace, a commit under load
// holds about 3 ms of such work and 64 events about 0.1 ms.
const writerYieldEvery = 64

// runWriter is the single writer: it takes batches from the queue and
// commits them to the spool until Close, then drains the queue.
func (p *Pipeline) runWriter() {
	defer close(p.writerDone)

	// The batch grows to the largest batch taken. Every slot of it is
	// read by each garbage collection cycle, so it starts small.
	batch := make([]*Event, 0, 256)
	tick := time.NewTicker(p.cfg.PollInterval)
	defer tick.Stop()
	poll := time.NewTimer(writerPoll)
	defer poll.Stop()

	for {
		select {
		case ev := <-p.queue:
			batch = append(batch[:0], ev)
		case <-tick.C:
			// Declares drops that happened after the last batch was taken.
			p.writeBatch(batch[:0], declareDue)
			continue
		case <-p.stopWriter:
			p.drain(batch)
			return
		}

		for idle := 0; idle < writerIdlePolls; {
			wait := writerPoll
			if batch = p.takeMore(batch); len(batch) > 0 {
				started := time.Now()
				p.writeBatch(batch, declareDue)
				batch, idle = batch[:0], 0
				wait = p.cfg.CommitInterval - time.Since(started)
			} else {
				idle++
			}
			if wait <= 0 {
				continue
			}
			poll.Reset(wait)
			select {
			case <-poll.C:
			case <-p.hurry:
			case <-p.stopWriter:
				p.drain(batch)
				return
			}
		}
	}
}

// drain commits everything left in the queue and declares the last drops.
func (p *Pipeline) drain(batch []*Event) {
	for {
		batch = p.takeMore(batch[:0])
		if len(batch) == 0 {
			break
		}
		p.writeBatch(batch, declareDue)
	}
	p.writeBatch(batch[:0], declareNow)
}

// takeMore fills batch from the queue without waiting, up to
// SpoolBatchSize.
func (p *Pipeline) takeMore(batch []*Event) []*Event {
	for len(batch) < p.cfg.SpoolBatchSize {
		select {
		case ev := <-p.queue:
			batch = append(batch, ev)
		default:
			return batch
		}
	}
	return batch
}

// declareMode selects when appendEvents adds an events_dropped gap event.
type declareMode int

const (
	declareNone declareMode = iota // never: the caller is not the writer
	declareDue                     // when drops are pending and the last gap event is PollInterval old
	declareNow                     // when drops are pending
)

// writeBatch releases the batch's share of the byte budget and commits it,
// with a gap event for undeclared drops as mode allows. A failed commit
// loses the batch, which is then counted as dropped and declared by a later
// gap event.
func (p *Pipeline) writeBatch(batch []*Event, mode declareMode) {
	var size int64
	for _, ev := range batch {
		size += ev.queuedSize
	}
	p.queuedBytes.Add(-size)

	err := p.appendEvents(batch, mode)
	switch {
	case err != nil:
		p.counters.dropSpool.Add(uint64(len(batch)))
		if !p.spoolFailing {
			p.spoolFailing = true
			p.log.Error("writing audit events to the spool failed; dropping them until writes succeed",
				zap.String("spool", p.spool.path), zap.Int("events", len(batch)), zap.Error(err))
		}
	case p.spoolFailing:
		p.spoolFailing = false
		p.log.Info("writing audit events to the spool works again", zap.String("spool", p.spool.path))
	}
	for i, ev := range batch {
		releaseEvent(ev)
		batch[i] = nil
	}
}

// appendEvents assigns seq and chain link to events and commits them to
// the spool in one transaction. As mode allows, it adds an events_dropped
// gap event when drops happened since the last one, so sustained overload
// gives at most one gap event per PollInterval. On error the chain state is
// unchanged, and the next commit reuses the seqs.
func (p *Pipeline) appendEvents(events []*Event, mode declareMode) error {
	p.chainMu.Lock()
	defer p.chainMu.Unlock()

	now := p.cfg.Now()
	declared := p.declared
	gap := false
	if mode == declareNow || (mode == declareDue && now.Sub(p.lastGapAt) >= p.cfg.PollInterval) {
		declared = dropCounts{
			full:   p.counters.dropFull.Load(),
			bytes:  p.counters.dropBytes.Load(),
			spool:  p.counters.dropSpool.Load(),
			closed: p.counters.dropUnfinished.Load(),
		}
		if since := declared.minus(p.declared); since.total() != 0 {
			events = append(events, p.gapEvent(since))
			gap = true
		}
	}
	if len(events) == 0 {
		return nil
	}

	seq, prev := p.lastSeq, p.lastHash
	at := now.UnixNano()
	segs := &p.segments
	segs.reset(at)
	for i, ev := range events {
		if i%writerYieldEvery == writerYieldEvery-1 {
			runtime.Gosched()
		}
		seq++
		ev.V, ev.Instance, ev.Seq, ev.PrevHash = SchemaVersion, p.instance, seq, prev
		if ev.TS.IsZero() {
			ev.TS = now
		}
		ev.sanitize()
		var v fieldValues
		p.scratch = ev.sharedValues(&v, p.scratch)
		ev.Hash = p.hasher.sumShared(&v)
		v[fieldHash] = ev.Hash
		prev = ev.Hash
		segs.add(seq, &v)
	}
	// The last link outlives the hasher's shared memory.
	prev = strings.Clone(prev)

	size, err := p.spool.appendSegments(segs, seq, prev)
	if err != nil {
		return err
	}

	p.lastSeq, p.lastHash = seq, prev
	p.declared = declared
	if gap {
		p.lastGapAt = now
	}
	p.counters.spooled.Add(uint64(len(events)))
	p.counters.lastSeq.Store(seq)
	p.counters.spoolBytes.Store(size)
	p.counters.oldestUnpublished.CompareAndSwap(0, at)

	select {
	case p.notify <- struct{}{}:
	default:
	}
	return nil
}

// dropCounts holds drop counts by reason: queue full by count or by bytes,
// spool write failed, or decisions unfinished when the pipeline closed.
type dropCounts struct {
	full, bytes, spool, closed uint64
}

// minus returns the drops in d that are not in earlier.
func (d dropCounts) minus(earlier dropCounts) dropCounts {
	return dropCounts{d.full - earlier.full, d.bytes - earlier.bytes, d.spool - earlier.spool, d.closed - earlier.closed}
}

func (d dropCounts) total() uint64 { return d.full + d.bytes + d.spool + d.closed }

// gapEvent returns the events_dropped note for the drops in d.
func (p *Pipeline) gapEvent(d dropCounts) *Event {
	p.log.Warn("audit events were dropped",
		zap.Uint64("queue_full", d.full), zap.Uint64("queue_bytes", d.bytes),
		zap.Uint64("spool_error", d.spool), zap.Uint64("closed", d.closed))
	return p.noteEvent(ReasonEventsDropped,
		fmt.Sprintf("dropped=%d queue_full=%d queue_bytes=%d spool_error=%d closed=%d",
			d.total(), d.full, d.bytes, d.spool, d.closed))
}

// noteEvent returns an event of module audit about the pipeline itself.
func (p *Pipeline) noteEvent(reason policy.Reason, detail string) *Event {
	return &Event{
		Module:   ModuleAudit,
		Decision: DecisionDeny,
		Reason:   reason,
		Detail:   detail,
	}
}
