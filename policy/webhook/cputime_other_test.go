//go:build !linux

package webhook

import "time"

// threadCPUTime is available on Linux only. Elsewhere the benchmarks
// report wall time alone.
func threadCPUTime() (time.Duration, bool) { return 0, false }
