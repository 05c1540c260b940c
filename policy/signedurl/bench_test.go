package signedurl

import (
	"strings"
	"testing"
	"time"
)

// typicalRequest is a request whose path and query are about 150 bytes
// once signed.
var typicalRequest = testRequest{"GET", "https", "files.awra.example", "/v1/exports/2026/q1-report.csv", "format=csv&tz=UTC"}

// benchRequest returns typicalRequest signed, about 150 bytes of path and
// query, and a verifier configured with its key.
func benchRequest(b *testing.B) (*Verifier, testRequest) {
	b.Helper()
	k := newTestKeys(b)
	r := mustSign(b, "k2026", k.current, typicalRequest, testNow.Add(time.Hour))
	return k.verifier, r
}

func BenchmarkVerify(b *testing.B) {
	v, r := benchRequest(b)
	b.ReportMetric(float64(len(r.path)+1+len(r.query)), "target-bytes")
	b.ReportAllocs()
	for b.Loop() {
		if res := v.Verify(testNow, r.method, r.scheme, r.host, r.path, r.query); !res.Allowed() {
			b.Fatalf("Verify reason = %q, want allowed", res.Reason)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	v, r := benchRequest(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := v.Verify(testNow, r.method, r.scheme, r.host, r.path, r.query); !res.Allowed() {
				b.Errorf("Verify reason = %q, want allowed", res.Reason)
				return
			}
		}
	})
}

// BenchmarkVerifyInterleaved measures a link whose control parameters sit
// between the others, so the forwarded query is a new string.
func BenchmarkVerifyInterleaved(b *testing.B) {
	v, r := benchRequest(b)
	control := r.query[strings.Index(r.query, ParamKeyID):]
	first, rest, _ := strings.Cut(typicalRequest.query, "&")
	r.query = first + "&" + control + "&" + rest
	b.ReportAllocs()
	for b.Loop() {
		if res := v.Verify(testNow, r.method, r.scheme, r.host, r.path, r.query); !res.Allowed() {
			b.Fatalf("Verify reason = %q, want allowed", res.Reason)
		}
	}
}

// BenchmarkVerifyDenied measures a wrong signature, the most expensive
// denial.
func BenchmarkVerifyDenied(b *testing.B) {
	v, r := benchRequest(b)
	r.path += "x"
	b.ReportAllocs()
	for b.Loop() {
		if res := v.Verify(testNow, r.method, r.scheme, r.host, r.path, r.query); res.Allowed() {
			b.Fatal("Verify allowed a changed path")
		}
	}
}

func BenchmarkSign(b *testing.B) {
	s, err := NewSigner("k2026", newTestSecret(b))
	if err != nil {
		b.Fatal(err)
	}
	r := typicalRequest
	expires := testNow.Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(r.method, r.scheme, r.host, r.path, r.query, expires); err != nil {
			b.Fatal(err)
		}
	}
}
