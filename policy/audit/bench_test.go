package audit

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/awra/awragate/internal/testredis"
)

// drainedQueue returns a pipeline whose queue is emptied the way the
// writer does under load (polling every writerPoll), but without the disk,
// so the benchmark measures Enqueue alone.
func drainedQueue(b *testing.B) *Pipeline {
	p := &Pipeline{
		cfg:   Config{QueueBytes: DefaultQueueBytes},
		queue: make(chan *Event, DefaultQueueCapacity),
	}
	stop := make(chan struct{})
	go func() {
		for {
			for len(p.queue) > 0 {
				ev := <-p.queue
				p.queuedBytes.Add(-ev.queuedSize)
				releaseEvent(ev)
			}
			select {
			case <-time.After(writerPoll):
			case <-stop:
				return
			}
		}
	}()
	b.Cleanup(func() { close(stop) })
	return p
}

// BenchmarkEnqueue measures the request path's cost of handing over an
// event. The allocation reported is the event itself, which the handler
// makes.
func BenchmarkEnqueue(b *testing.B) {
	template := requestEvent(1)

	b.Run("serial", func(b *testing.B) {
		p := drainedQueue(b)
		b.ReportAllocs()
		for b.Loop() {
			ev := *template
			p.Enqueue(&ev)
		}
		reportDrops(b, p)
	})

	// Events from a ring as large as the queue, which is emptied with the
	// timer stopped whenever it is full: the cost of Enqueue alone, without
	// the handler's allocation or a concurrent writer.
	b.Run("serial preallocated", func(b *testing.B) {
		p := &Pipeline{cfg: Config{QueueBytes: DefaultQueueBytes}, queue: make(chan *Event, DefaultQueueCapacity)}
		ring := make([]Event, DefaultQueueCapacity)
		for i := range ring {
			ring[i] = *template
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if len(p.queue) == cap(p.queue) {
				b.StopTimer()
				for len(p.queue) > 0 {
					ev := <-p.queue
					p.queuedBytes.Add(-ev.queuedSize)
				}
				b.StartTimer()
			}
			p.Enqueue(&ring[i%len(ring)])
		}
		b.StopTimer()
		reportDrops(b, p)
	})

	b.Run("serial pooled", func(b *testing.B) {
		p := drainedQueue(b)
		b.ReportAllocs()
		for b.Loop() {
			ev := NewEvent()
			*ev = *template
			p.Enqueue(ev)
		}
		reportDrops(b, p)
	})

	b.Run("parallel", func(b *testing.B) {
		p := drainedQueue(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ev := *template
				p.Enqueue(&ev)
			}
		})
		reportDrops(b, p)
	})

	b.Run("queue full", func(b *testing.B) {
		p := &Pipeline{cfg: Config{QueueBytes: DefaultQueueBytes}, queue: make(chan *Event)}
		ev := requestEvent(1)
		b.ReportAllocs()
		for b.Loop() {
			p.Enqueue(ev)
		}
	})
}

// processCPU returns the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportDrops(b *testing.B, p *Pipeline) {
	s := p.Stats()
	b.ReportMetric(float64(s.Dropped())/float64(s.Dropped()+s.Enqueued), "dropped/op")
}

// BenchmarkPipelineThroughput measures events per second from Enqueue
// through the spool into a local Redis stream.
func BenchmarkPipelineThroughput(b *testing.B) {
	srv := testredis.Start(b)
	cfg := testConfig(b, srv.URL())
	p := mustOpen(b, cfg)
	ev := requestEvent(1)

	b.ReportAllocs()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		// One producer: waiting for room means Enqueue never drops.
		for len(p.queue) == cap(p.queue) {
			runtime.Gosched()
		}
		e := *ev
		p.Enqueue(&e)
	}
	waitPublished(b, p, uint64(b.N), 5*time.Minute)
	elapsed := time.Since(start)

	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if s := p.Stats(); s.Published != uint64(b.N) || s.Dropped() != 0 {
		b.Fatalf("Stats() = %+v, want %d published and no drops", s, b.N)
	}
}

// BenchmarkPipelineCPU measures the CPU the pipeline spends per event at a
// steady 20,000 events a second, about the rate of a gateway on one CPU,
// from Enqueue through the spool into a local Redis stream. It counts the
// user and system time of every thread of this process, which includes
// the disk syncs' system calls. redis-server is a child process and is not
// counted. Unlike PipelineThroughput, the queue never fills, so no time
// goes to waiting for room.
func BenchmarkPipelineCPU(b *testing.B) {
	const burst, every = 20, time.Millisecond
	srv := testredis.Start(b)
	cfg := testConfig(b, srv.URL())
	p := mustOpen(b, cfg)
	ev := requestEvent(1)

	b.ReportAllocs()
	cpuStart := processCPU(b)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; i < b.N; i++ {
		if i%burst == 0 {
			<-tick.C
		}
		e := NewEvent()
		*e = *ev
		p.Enqueue(e)
	}
	waitPublished(b, p, uint64(b.N), 5*time.Minute)
	cpu := processCPU(b) - cpuStart

	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
	if s := p.Stats(); s.Published != uint64(b.N) || s.Dropped() != 0 {
		b.Fatalf("Stats() = %+v, want %d published and no drops", s, b.N)
	}
}
