//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts are meaningful only without it.

package webhook

import (
	"net/http"
	"testing"
	"time"
)

func TestVerifyDoesNotAllocate(t *testing.T) {
	body := body2K()
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			secret := f.newSecret(t)
			v := newVerifier(t, f, secret)
			good := f.build(secret, stamp(0), "msg_alloc", body)
			forged := f.build(f.newSecret(t), stamp(0), "msg_alloc", body)
			cases := map[string]http.Header{
				"valid":   good,
				"forged":  forged,
				"missing": {},
				"stale":   f.build(secret, stamp(-time.Hour), "msg_alloc", body),
			}
			for name, h := range cases {
				allocs := testing.AllocsPerRun(100, func() { v.Verify(testNow, h, body) })
				if allocs != 0 {
					t.Errorf("Verify(%s) allocations = %v, want 0", name, allocs)
				}
			}
		})
	}
}
