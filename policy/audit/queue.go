package audit

// Enqueue hands ev to the writer without blocking and without I/O. It
// returns false and counts a drop when the queue holds QueueCapacity events
// or QueueBytes bytes, or when Close has been called. The writer later
// records the queue drops in an events_dropped gap event. Enqueue on a nil
// Pipeline or with a nil event returns false and counts nothing.
//
// When Enqueue returns true the pipeline owns ev: the writer fills V,
// Instance, Seq, PrevHash and Hash (and TS when it is zero), so the caller
// must neither read nor change ev afterwards. When it returns false the
// caller keeps ev.
//
// Enqueue is safe for concurrent use. It takes no lock: a few atomic
// operations and a non-blocking channel send, with no allocation.
func (p *Pipeline) Enqueue(ev *Event) bool {
	if p == nil || ev == nil {
		return false
	}
	return p.enqueue(ev, false)
}

// enqueue implements Enqueue. When begun is true, ev belongs to a
// decision announced by Begin, and enqueue ends that decision.
func (p *Pipeline) enqueue(ev *Event, begun bool) bool {
	if !p.enter() {
		if begun {
			p.endLate(true)
		} else {
			p.counters.dropClosed.Add(1)
		}
		return false
	}
	if begun {
		// Close reads begun only after inflight is back to zero, so it
		// cannot count this decision as unfinished.
		p.begun.Add(-1)
	}

	size := ev.approxSize()
	queued := p.queuedBytes.Add(size)
	if queued > p.cfg.QueueBytes {
		p.queuedBytes.Add(-size)
		p.inflight.Add(-1)
		p.counters.dropBytes.Add(1)
		return false
	}
	ev.queuedSize = size

	select {
	case p.queue <- ev:
		p.counters.enqueued.Add(1)
		p.inflight.Add(-1)
		if len(p.queue) > cap(p.queue)/2 || queued > p.cfg.QueueBytes/2 {
			p.hurryWriter()
		}
		return true
	default:
		p.queuedBytes.Add(-size)
		p.inflight.Add(-1)
		p.counters.dropFull.Add(1)
		return false
	}
}

// enter registers a call of Enqueue, Finish, Begin or Abandon, which
// Close waits for before it counts unfinished decisions and drains the
// queue. It returns false once Close has begun. After true the caller
// must call p.inflight.Add(-1) when done.
func (p *Pipeline) enter() bool {
	p.inflight.Add(1)
	if p.closed.Load() {
		p.inflight.Add(-1)
		return false
	}
	return true
}

// hurryWriter wakes the writer before its commit interval is over, so
// that the writer takes a burst before it fills the queue.
func (p *Pipeline) hurryWriter() {
	select {
	case p.hurry <- struct{}{}:
	default:
	}
}
