package webhook

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPUTime returns the CPU time used by the calling OS thread, from
// clock_gettime(CLOCK_THREAD_CPUTIME_ID). The benchmarks report it next
// to wall time because time spent waiting for a CPU on a busy machine
// inflates ns/op but not this figure. The caller locks the goroutine to
// its thread.
func threadCPUTime() (time.Duration, bool) {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
