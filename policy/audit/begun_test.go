package audit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// closedGaps reopens the spool of a closed pipeline and returns its
// events, the closed drops its gap events declare, and Verify's count of
// declared drops.
func closedGaps(t *testing.T, cfg Config) (entries []Entry, closed, verified uint64) {
	t.Helper()
	p := mustOpen(t, cfg)
	entries = readSpool(t, p)
	mustClose(t, p)
	for _, e := range entries {
		if e.Event.Reason != ReasonEventsDropped {
			continue
		}
		n, ok := detailNumber(e.Event.Detail, "closed=")
		if !ok {
			t.Fatalf("gap event detail %q has no closed count", e.Event.Detail)
		}
		closed += n
	}
	rep, _ := Verify(entries, cfg.ChainKey)
	if !rep.OK() {
		t.Fatalf("Verify() = %v, want no problem", rep.Err())
	}
	for _, inst := range rep.Instances {
		verified += inst.Dropped
	}
	return entries, closed, verified
}

// A decision still unfinished when Close gives up waiting is counted as
// dropped and declared by the last gap event. Its late Finish counts
// nothing more.
func TestCloseDeclaresUnfinishedDecisions(t *testing.T) {
	cfg := testConfig(t, "")
	p := mustOpen(t, cfg)

	for i := 0; i < 3; i++ {
		if !p.Begin() {
			t.Fatalf("Begin() #%d on an open pipeline = false, want true", i+1)
		}
	}
	if !p.Finish(requestEvent(1)) {
		t.Fatal("Finish() on an open pipeline = false, want true")
	}
	p.Abandon() // ends the second decision without an event

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got := p.Stats().DroppedClosed; got != 1 {
		t.Fatalf("DroppedClosed after Close = %d, want 1 (the unfinished decision)", got)
	}
	if p.Finish(requestEvent(2)) {
		t.Fatal("Finish() after Close = true, want false")
	}
	if got := p.Stats().DroppedClosed; got != 1 {
		t.Fatalf("DroppedClosed after the late Finish = %d, want 1: Close counted it already", got)
	}
	if p.Begin() {
		t.Fatal("Begin() after Close = true, want false")
	}

	entries, closed, verified := closedGaps(t, cfg)
	if closed != 1 || verified != 1 {
		t.Fatalf("gap events declare %d closed drops, Verify counts %d dropped; want 1 and 1", closed, verified)
	}
	if n := countModule(entries, ModuleAPIKey); n != 1 {
		t.Fatalf("spool holds %d request events, want 1", n)
	}
}

// Close waits for an unfinished decision that arrives within beginWait,
// and then declares nothing.
func TestCloseWaitsForUnfinishedDecision(t *testing.T) {
	cfg := testConfig(t, "")
	p := mustOpen(t, cfg)
	if !p.Begin() {
		t.Fatal("Begin() = false, want true")
	}
	done := make(chan bool)
	go func() {
		time.Sleep(50 * time.Millisecond)
		done <- p.Finish(requestEvent(1))
	}()
	mustClose(t, p)
	if !<-done {
		t.Fatal("Finish() during Close's wait = false, want true")
	}
	if got := p.Stats().DroppedClosed; got != 0 {
		t.Fatalf("DroppedClosed = %d, want 0", got)
	}
	entries, closed, _ := closedGaps(t, cfg)
	if closed != 0 || countModule(entries, ModuleAPIKey) != 1 {
		t.Fatalf("spool holds %d request events and declares %d closed drops, want 1 and 0",
			countModule(entries, ModuleAPIKey), closed)
	}
}

// A decision that ends between Close setting closed and counting the
// unfinished ones counts its own drop, once.
func TestFinishBetweenClosedAndCount(t *testing.T) {
	cfg := testConfig(t, "")
	p := mustOpen(t, cfg)
	if !p.Begin() {
		t.Fatal("Begin() = false, want true")
	}
	p.closed.Store(true) // what Close does before it counts
	if p.Finish(requestEvent(1)) {
		t.Fatal("Finish() on a closing pipeline = true, want false")
	}
	p.declareUnfinished()
	if got := p.Stats().DroppedClosed; got != 1 {
		t.Fatalf("DroppedClosed = %d, want 1", got)
	}
	p.closed.Store(false)
	p.lateDeclared = false
	mustClose(t, p)
	if _, closed, _ := closedGaps(t, cfg); closed != 1 {
		t.Fatalf("gap events declare %d closed drops, want 1", closed)
	}
}

// Under concurrency every decision is either in the spool or declared
// dropped, and nothing is counted twice.
func TestBeginFinishConcurrentWithClose(t *testing.T) {
	cfg := testConfig(t, "")
	p := mustOpen(t, cfg)

	const workers, each = 8, 200
	var begun, accepted atomic.Uint64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-start
			for i := 0; i < each; i++ {
				if !p.Begin() {
					return
				}
				begun.Add(1)
				if i%7 == 0 {
					time.Sleep(time.Duration(w+1) * 300 * time.Microsecond)
				}
				if p.Finish(requestEvent(w*each + i)) {
					accepted.Add(1)
				}
			}
		}(w)
	}
	close(start)
	time.Sleep(5 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	wg.Wait()

	entries, closed, _ := closedGaps(t, cfg)
	spooled := uint64(countModule(entries, ModuleAPIKey))
	if spooled != accepted.Load() {
		t.Fatalf("spool holds %d request events, Finish accepted %d", spooled, accepted.Load())
	}
	if spooled+closed != begun.Load() {
		t.Fatalf("%d spooled + %d declared dropped != %d begun", spooled, closed, begun.Load())
	}
	if got := p.Stats().DroppedClosed; got != closed {
		t.Fatalf("DroppedClosed = %d, want the %d declared", got, closed)
	}
}
