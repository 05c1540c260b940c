package audit

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a pipeline's counters. Counts are totals since
// Open; the fields are read one by one, so under load they may be a few
// events apart from each other.
type Stats struct {
	Enqueued uint64 // events accepted by Enqueue

	DroppedQueueFull  uint64 // rejected because the queue held QueueCapacity events
	DroppedQueueBytes uint64 // rejected because the queue held QueueBytes bytes
	DroppedClosed     uint64 // rejected because Close had been called
	DroppedSpoolError uint64 // accepted but lost because a spool write failed

	QueueLen   int   // events waiting for the writer
	QueueBytes int64 // approximate bytes waiting for the writer

	Spooled      uint64 // events committed to the spool, audit notes included
	Published    uint64 // entries added to the stream
	Replayed     uint64 // events sent to Redis again after a timeout, reconnect, restart or rewind
	LastSeq      uint64 // highest seq in the spool
	PublishedSeq uint64 // highest seq known to be in the stream

	SpoolBytes           int64         // size of the spool file; it grows with the backlog and does not shrink
	OldestUnpublishedAge time.Duration // age of the oldest spooled event not yet in the stream, 0 when none
	RedisUp              bool          // the last Redis call succeeded
}

// Dropped returns the total of all drop counters.
func (s Stats) Dropped() uint64 {
	return s.DroppedQueueFull + s.DroppedQueueBytes + s.DroppedClosed + s.DroppedSpoolError
}

// counters holds the pipeline's atomics. Enqueue touches only the first
// four; the others change once per batch.
type counters struct {
	enqueued   atomic.Uint64
	dropFull   atomic.Uint64
	dropBytes  atomic.Uint64
	dropClosed atomic.Uint64

	dropSpool         atomic.Uint64
	dropUnfinished    atomic.Uint64 // closed drops of decisions announced by Begin, which gap events declare
	spooled           atomic.Uint64
	published         atomic.Uint64
	replayed          atomic.Uint64
	lastSeq           atomic.Uint64
	cursor            atomic.Uint64
	spoolBytes        atomic.Int64
	oldestUnpublished atomic.Int64 // Unix nanoseconds, 0 when none
	redisUp           atomic.Bool
}

// Stats returns the current counters. It is safe for concurrent use and
// cheap enough to call on every metrics scrape.
func (p *Pipeline) Stats() Stats {
	c := &p.counters
	s := Stats{
		Enqueued:          c.enqueued.Load(),
		DroppedQueueFull:  c.dropFull.Load(),
		DroppedQueueBytes: c.dropBytes.Load(),
		DroppedClosed:     c.dropClosed.Load(),
		DroppedSpoolError: c.dropSpool.Load(),
		QueueLen:          len(p.queue),
		QueueBytes:        p.queuedBytes.Load(),
		Spooled:           c.spooled.Load(),
		Published:         c.published.Load(),
		Replayed:          c.replayed.Load(),
		LastSeq:           c.lastSeq.Load(),
		PublishedSeq:      c.cursor.Load(),
		SpoolBytes:        c.spoolBytes.Load(),
		RedisUp:           c.redisUp.Load(),
	}
	if at := c.oldestUnpublished.Load(); at != 0 {
		s.OldestUnpublishedAge = p.cfg.Now().Sub(time.Unix(0, at))
	}
	return s
}
