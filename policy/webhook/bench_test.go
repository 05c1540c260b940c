package webhook

import (
	"runtime"
	"testing"
)

// BenchmarkVerify measures a successful verification of a 2 KiB body per
// provider, key derivation included.
func BenchmarkVerify(b *testing.B) {
	body := body2K()
	for _, f := range fixtures {
		b.Run(f.name, func(b *testing.B) {
			secret := f.newSecret(b)
			v, err := New(f.config(secret))
			if err != nil {
				b.Fatal(err)
			}
			h := f.build(secret, stamp(0), "msg_bench", body)
			if r := v.Verify(testNow, h, body); !r.OK() {
				b.Fatalf("Verify() reason = %q, want success", r.Reason)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			measureCPU(b, func() {
				for b.Loop() {
					v.Verify(testNow, h, body)
				}
			})
		})
	}
}

// BenchmarkVerifyForged measures the worst case a forger can cause: a
// well-formed signature that matches neither of two rotation secrets.
func BenchmarkVerifyForged(b *testing.B) {
	body := body2K()
	for _, f := range fixtures {
		b.Run(f.name, func(b *testing.B) {
			v, err := New(f.config(f.newSecret(b), f.newSecret(b)))
			if err != nil {
				b.Fatal(err)
			}
			h := f.build(f.newSecret(b), stamp(0), "msg_bench", body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			measureCPU(b, func() {
				for b.Loop() {
					v.Verify(testNow, h, body)
				}
			})
		})
	}
}

// BenchmarkVerifyParallel checks that the pooled HMAC states do not
// contend across goroutines.
func BenchmarkVerifyParallel(b *testing.B) {
	body := body2K()
	f := fixtures[0]
	for _, candidate := range fixtures {
		if candidate.name == ProviderStripe {
			f = candidate
		}
	}
	secret := f.newSecret(b)
	v, err := New(f.config(secret))
	if err != nil {
		b.Fatal(err)
	}
	h := f.build(secret, stamp(0), "msg_bench", body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v.Verify(testNow, h, body)
		}
	})
}

// measureCPU runs loop on one locked OS thread and reports its CPU time
// per operation as "cpu-ns/op".
func measureCPU(b *testing.B, loop func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, ok := threadCPUTime()
	loop()
	end, _ := threadCPUTime()
	if ok && b.N > 0 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}
