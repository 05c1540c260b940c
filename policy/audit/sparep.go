package audit

import (
	"runtime"
	"sync"
)

// spare counts the withSpareP calls in progress and remembers whether the
// first of them raised GOMAXPROCS.
var spare struct {
	sync.Mutex
	active int
	raised bool
}

// withSpareP runs fn, which waits for the disk, with a second P when
// GOMAXPROCS is 1, and restores GOMAXPROCS afterwards. Calls from several
// spools run at the same time and share the spare P.
//
// Go hands the P of a goroutine blocked in a system call to another thread
// only when its monitor thread notices, and the monitor sleeps up to 10 ms
// while it has nothing else to do. A gateway with GOMAXPROCS 1 (one CPU,
// or a CPU limit of one) then runs no request while a spool commit waits
// in fdatasync, which takes 1 to 3 ms under load. The requests that queued
// meanwhile then go upstream together, so the CPU also idles after the
// commit. With a spare P, requests run on the CPU that the sync leaves
// idle (bench/RESULTS.md has the figures). Changing GOMAXPROCS stops the
// world for a few microseconds, once per commit.
//
// Setting GOMAXPROCS ends the runtime's automatic updates of it when the
// CPU limit changes. Caddy's start-up (automaxprocs) already sets it when
// the process has a CPU quota. So only a gateway with one CPU and no quota
// loses something: it keeps GOMAXPROCS 1 until it restarts, even if it is
// given more CPUs.
func withSpareP(fn func() error) error {
	spare.Lock()
	if spare.active == 0 && runtime.GOMAXPROCS(0) == 1 {
		runtime.GOMAXPROCS(2)
		spare.raised = true
	}
	spare.active++
	spare.Unlock()

	defer func() {
		spare.Lock()
		defer spare.Unlock()
		spare.active--
		if spare.active > 0 || !spare.raised {
			return
		}
		spare.raised = false
		// Someone else may have set another value meanwhile; keep it.
		if runtime.GOMAXPROCS(0) == 2 {
			runtime.GOMAXPROCS(1)
		}
	}()
	return fn()
}
