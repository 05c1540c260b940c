package audit

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// A handler that records its decision at the end of a request, after the
// upstream responded, may still be running when the pipeline closes.
// Caddy stops waiting for a server's requests when its grace period runs
// out and then cleans up its apps, which closes the pipeline. Such a
// decision would be dropped without a gap event. Begin, Finish and Abandon
// let Close count these decisions and declare them in the last gap event.

// beginWait bounds how long Close waits for unfinished decisions before
// it declares them.
const beginWait = time.Second

// Begin announces a decision whose event the caller will hand over later
// with Finish, or end with Abandon if it records none. It returns false
// when p is nil or closed, and the caller then calls neither. Such a
// caller may still call Enqueue, which counts the drop. Begin is safe for
// concurrent use and costs two atomic adds and a load.
func (p *Pipeline) Begin() bool {
	if p == nil {
		return false
	}
	// Close counts the unfinished decisions only after every Begin that
	// entered has added its own.
	if !p.enter() {
		return false
	}
	p.begun.Add(1)
	p.inflight.Add(-1)
	return true
}

// Finish is Enqueue for the event of a decision announced by Begin, and
// ends that decision. After Close a finished event is dropped without
// counting a second drop, because Close has already counted and declared
// it.
func (p *Pipeline) Finish(ev *Event) bool {
	if p == nil {
		return false
	}
	if ev == nil {
		p.Abandon()
		return false
	}
	return p.enqueue(ev, true)
}

// Abandon ends a decision announced by Begin without an event.
func (p *Pipeline) Abandon() {
	if p == nil {
		return
	}
	if !p.enter() {
		p.endLate(false)
		return
	}
	p.begun.Add(-1)
	p.inflight.Add(-1)
}

// endLate ends a decision announced by Begin after Close has set closed.
// When Close has already counted the unfinished decisions, this one is
// among them. Otherwise it leaves the count, and if its event was dropped
// it counts that drop itself.
func (p *Pipeline) endLate(dropped bool) {
	p.lateMu.Lock()
	defer p.lateMu.Unlock()
	p.begun.Add(-1)
	if !p.lateDeclared && dropped {
		p.counters.dropClosed.Add(1)
		p.counters.dropUnfinished.Add(1)
	}
}

// waitBegun waits until no decision announced by Begin is unfinished, for
// at most beginWait and never past ctx's deadline.
func (p *Pipeline) waitBegun(ctx context.Context) {
	deadline := time.Now().Add(beginWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for p.begun.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
}

// declareUnfinished counts the decisions still unfinished as dropped. It
// runs in Close after closed is set and no Enqueue is in flight, so every
// later end of such a decision goes through endLate.
func (p *Pipeline) declareUnfinished() {
	p.lateMu.Lock()
	defer p.lateMu.Unlock()
	if n := p.begun.Load(); n > 0 {
		p.counters.dropClosed.Add(uint64(n))
		p.counters.dropUnfinished.Add(uint64(n))
		p.log.Warn("audit pipeline closed with unfinished decisions, declared as dropped",
			zap.Int64("unfinished", n))
	}
	p.lateDeclared = true
}
