package audit

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// bareQueue returns a pipeline with a queue and no writer, so the queue
// fills up.
func bareQueue(capacity int, bytes int64) *Pipeline {
	return &Pipeline{
		cfg:   Config{QueueBytes: bytes},
		queue: make(chan *Event, capacity),
	}
}

func TestEnqueueBounds(t *testing.T) {
	size := requestEvent(1).approxSize()

	t.Run("count limit", func(t *testing.T) {
		p := bareQueue(2, 1<<20)
		got := []bool{p.Enqueue(requestEvent(1)), p.Enqueue(requestEvent(2)), p.Enqueue(requestEvent(3))}
		if want := []bool{true, true, false}; !equalBools(got, want) {
			t.Fatalf("Enqueue x3 = %v, want %v", got, want)
		}
		s := p.Stats()
		if s.Enqueued != 2 || s.DroppedQueueFull != 1 || s.DroppedQueueBytes != 0 {
			t.Fatalf("Stats() = %+v, want 2 enqueued and 1 queue_full drop", s)
		}
		if s.QueueBytes != 2*size {
			t.Fatalf("QueueBytes = %d, want %d: a drop must give its bytes back", s.QueueBytes, 2*size)
		}
	})

	t.Run("byte limit", func(t *testing.T) {
		p := bareQueue(100, 2*size+size/2)
		got := []bool{p.Enqueue(requestEvent(1)), p.Enqueue(requestEvent(2)), p.Enqueue(requestEvent(3))}
		if want := []bool{true, true, false}; !equalBools(got, want) {
			t.Fatalf("Enqueue x3 = %v, want %v", got, want)
		}
		s := p.Stats()
		if s.DroppedQueueBytes != 1 || s.DroppedQueueFull != 0 || s.QueueBytes != 2*size {
			t.Fatalf("Stats() = %+v, want 1 queue_bytes drop and %d bytes queued", s, 2*size)
		}
	})

	t.Run("large event against byte limit", func(t *testing.T) {
		p := bareQueue(100, 4096)
		ev := requestEvent(1)
		ev.Path = strings.Repeat("a", 5000)
		if p.Enqueue(ev) {
			t.Fatal("Enqueue(event larger than the byte limit) = true, want false")
		}
	})

	t.Run("closed", func(t *testing.T) {
		p := bareQueue(10, 1<<20)
		p.closed.Store(true)
		if p.Enqueue(requestEvent(1)) {
			t.Fatal("Enqueue after close = true, want false")
		}
		if s := p.Stats(); s.DroppedClosed != 1 || s.Enqueued != 0 {
			t.Fatalf("Stats() = %+v, want 1 closed drop", s)
		}
	})

	t.Run("nil pipeline and nil event", func(t *testing.T) {
		var p *Pipeline
		if p.Enqueue(requestEvent(1)) {
			t.Fatal("(*Pipeline)(nil).Enqueue = true, want false")
		}
		q := bareQueue(10, 1<<20)
		if q.Enqueue(nil) {
			t.Fatal("Enqueue(nil) = true, want false")
		}
		if s := q.Stats(); s.Dropped() != 0 || s.Enqueued != 0 {
			t.Fatalf("Stats() = %+v, want nothing counted", s)
		}
	})
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A full queue drops events, the writer then declares them in a gap event,
// and the declared drop verifies.
func TestQueueFullWritesGapEvent(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.QueueCapacity = 8
	p := mustOpen(t, cfg)

	// Hold the chain lock so the writer stalls after taking one batch.
	p.chainMu.Lock()
	accepted, dropped := 0, 0
	for i := 0; i < 100; i++ {
		if p.Enqueue(requestEvent(i)) {
			accepted++
		} else {
			dropped++
		}
	}
	p.chainMu.Unlock()

	if dropped == 0 || accepted > p.cfg.QueueCapacity+p.cfg.BatchSize {
		t.Fatalf("Enqueue x100 into a stalled queue of 8: %d accepted, %d dropped; want drops", accepted, dropped)
	}
	if got := p.Stats().DroppedQueueFull; got != uint64(dropped) {
		t.Fatalf("DroppedQueueFull = %d, want %d", got, dropped)
	}
	waitFor(t, 5*time.Second, "the gap event", func() bool {
		return p.Stats().LastSeq == uint64(accepted)+1
	})

	entries := readSpool(t, p)
	mustClose(t, p)

	var gaps []Event
	for _, e := range entries {
		if e.Event.Reason == ReasonEventsDropped {
			gaps = append(gaps, e.Event)
		}
	}
	if len(gaps) != 1 {
		t.Fatalf("spool holds %d events_dropped events, want 1", len(gaps))
	}
	if gaps[0].Module != ModuleAudit || gaps[0].Decision != DecisionDeny {
		t.Fatalf("gap event = %s/%s, want audit/deny", gaps[0].Module, gaps[0].Decision)
	}
	want := fmt.Sprintf("dropped=%d queue_full=%d queue_bytes=0 spool_error=0 closed=0", dropped, dropped)
	if gaps[0].Detail != want {
		t.Fatalf("gap event detail = %q, want %q", gaps[0].Detail, want)
	}
	rep, _ := Verify(entries, cfg.ChainKey)
	if !rep.OK() {
		t.Fatalf("Verify() = %v, want no problem", rep.Err())
	}
	if got := rep.Instances[0].Dropped; got != uint64(dropped) {
		t.Fatalf("Verify() Dropped = %d, want %d", got, dropped)
	}
}

func TestEnqueueAfterClose(t *testing.T) {
	p := mustOpen(t, testConfig(t, ""))
	mustClose(t, p)
	if p.Enqueue(requestEvent(1)) {
		t.Fatal("Enqueue after Close = true, want false")
	}
	if got := p.Stats().DroppedClosed; got != 1 {
		t.Fatalf("DroppedClosed = %d, want 1", got)
	}
	if err := p.Close(context.Background()); err != ErrClosed {
		t.Fatalf("second Close() = %v, want ErrClosed", err)
	}
}

// A queue more than half full wakes the writer before its commit interval
// is over, so a burst does not wait for the interval and then overflow.
func TestHalfFullQueueWakesWriter(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.QueueCapacity = 64
	cfg.CommitInterval = MaxCommitInterval
	p := mustOpen(t, cfg)

	// The first event wakes the idle writer, which then waits a whole
	// commit interval before it takes the next batch.
	opened := p.Stats().Spooled
	if !p.Enqueue(requestEvent(0)) {
		t.Fatal("Enqueue() of the first event = false")
	}
	waitFor(t, 5*time.Second, "the first commit", func() bool { return p.Stats().Spooled > opened })
	time.Sleep(50 * time.Millisecond) // the writer is now in its wait
	base := p.Stats().Spooled

	// The 33rd event leaves the queue more than half full and wakes the
	// writer, which takes at least those 33. Events after them may wait
	// for the next commit, because the queue is then below half again.
	start := time.Now()
	for i := 1; i <= 40; i++ {
		if !p.Enqueue(requestEvent(i)) {
			t.Fatalf("Enqueue() #%d = false, want room in a queue of 64", i)
		}
	}
	waitFor(t, 5*time.Second, "the early commit", func() bool { return p.Stats().Spooled >= base+33 })
	if took := time.Since(start); took >= MaxCommitInterval/2 {
		t.Errorf("33 events in a queue of 64 were spooled after %v, want well under the %v commit interval", took, MaxCommitInterval)
	}
}
