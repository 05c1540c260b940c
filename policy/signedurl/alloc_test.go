//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts are only meaningful without it.

package signedurl

import (
	"testing"
	"time"
)

func TestVerifyAllocations(t *testing.T) {
	k := newTestKeys(t)
	r := mustSign(t, "k2026", k.current, typicalRequest, testNow.Add(time.Hour))
	if len(r.path)+len(r.query)+1 < 140 {
		t.Fatalf("test setup: target is %d bytes, want about 150", len(r.path)+len(r.query)+1)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if res := k.verifier.Verify(testNow, r.method, r.scheme, r.host, r.path, r.query); !res.Allowed() {
			t.Fatalf("Verify reason = %q, want allowed", res.Reason)
		}
	})
	if allocs != 0 {
		t.Errorf("Verify allocations = %v, want 0", allocs)
	}
}
