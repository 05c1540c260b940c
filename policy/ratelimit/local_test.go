package ratelimit

import (
	"math"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/awra/awragate/policy"
)

func TestFromRecord(t *testing.T) {
	tests := []struct {
		name string
		rl   *policy.RateLimit
		want Limit
		ok   bool
	}{
		{"nil", nil, Limit{}, false},
		{"per second", &policy.RateLimit{Rate: "10/s", Burst: 20}, Limit{10, 20}, true},
		{"per minute", &policy.RateLimit{Rate: "120/m", Burst: 5}, Limit{2, 5}, true},
		{"invalid rate", &policy.RateLimit{Rate: "ten", Burst: 5}, Limit{}, false},
		{"zero burst", &policy.RateLimit{Rate: "1/s", Burst: 0}, Limit{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FromRecord(tt.rl)
			if got != tt.want || ok != tt.ok {
				t.Errorf("FromRecord(%v) = %v, %v, want %v, %v", tt.rl, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLimitSplit(t *testing.T) {
	tests := []struct {
		name      string
		limit     Limit
		instances int
		want      Limit
	}{
		{"one instance", Limit{10, 10}, 1, Limit{10, 10}},
		{"zero means one", Limit{10, 10}, 0, Limit{10, 10}},
		{"negative means one", Limit{10, 10}, -3, Limit{10, 10}},
		{"three instances", Limit{9, 9}, 3, Limit{3, 3}},
		// The burst rounds down so the instances together stay within it.
		{"burst rounds down", Limit{10, 10}, 3, Limit{10.0 / 3, 3}},
		// A burst below the instance count cannot be split further.
		{"burst floor is one", Limit{10, 2}, 3, Limit{10.0 / 3, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.limit.Split(tt.instances); got != tt.want {
				t.Errorf("%v.Split(%d) = %v, want %v", tt.limit, tt.instances, got, tt.want)
			}
		})
	}
}

func TestAllowLocal(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lim := rate.NewLimiter(2, 3) // 2/s, burst 3

	steps := []struct {
		at         time.Duration
		allowed    bool
		remaining  int
		retryAfter time.Duration
		resetAfter time.Duration
	}{
		{0, true, 2, 0, 500 * time.Millisecond},
		{0, true, 1, 0, 500 * time.Millisecond},
		{0, true, 0, 0, 500 * time.Millisecond},
		// On a denial the next request and the retry are the same wait.
		{0, false, 0, 500 * time.Millisecond, 500 * time.Millisecond},
		{250 * time.Millisecond, false, 0, 250 * time.Millisecond, 250 * time.Millisecond},
		{500 * time.Millisecond, true, 0, 0, 500 * time.Millisecond},
		// Half a token left over: the next whole one is 250ms away.
		{1750 * time.Millisecond, true, 1, 0, 250 * time.Millisecond},
		{10 * time.Second, true, 2, 0, 500 * time.Millisecond},
	}
	for i, s := range steps {
		got := AllowLocal(lim, start.Add(s.at))
		want := Result{Allowed: s.allowed, Remaining: s.remaining, RetryAfter: s.retryAfter, ResetAfter: s.resetAfter}
		if !closeResult(got, want) {
			t.Errorf("step %d: AllowLocal(at +%v) = %+v, want %+v", i, s.at, got, want)
		}
	}
}

// closeResult compares results allowing for float rounding of durations.
func closeResult(a, b Result) bool {
	near := func(x, y time.Duration) bool { return math.Abs(float64(x-y)) < float64(time.Microsecond) }
	return a.Allowed == b.Allowed && a.Remaining == b.Remaining && near(a.RetryAfter, b.RetryAfter) && near(a.ResetAfter, b.ResetAfter)
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 1},
		{-time.Second, 1},
		{time.Millisecond, 1},
		{time.Second, 1},
		{1001 * time.Millisecond, 2},
		{time.Duration(math.MaxInt64), math.MaxInt32},
	}
	for _, tt := range tests {
		if got := (Result{RetryAfter: tt.d}).RetryAfterSeconds(); got != tt.want {
			t.Errorf("Result{RetryAfter: %v}.RetryAfterSeconds() = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestHeaderValues(t *testing.T) {
	policies := []struct {
		name  string
		limit Limit
		want  string
	}{
		{"one second", Limit{10, 10}, `"api-key";q=10;w=1`},
		{"burst twice the rate", Limit{10, 20}, `"api-key";q=20;w=2`},
		{"per minute", Limit{100.0 / 60, 100}, `"api-key";q=100;w=60`},
		{"window rounds up", Limit{3, 10}, `"api-key";q=10;w=4`},
		{"window at least one", Limit{1000, 1}, `"api-key";q=1;w=1`},
		{"zero rate", Limit{0, 5}, `"api-key";q=5;w=1`},
	}
	for _, tt := range policies {
		t.Run("policy/"+tt.name, func(t *testing.T) {
			if got := PolicyValue(tt.limit); got != tt.want {
				t.Errorf("PolicyValue(%v) = %s, want %s", tt.limit, got, tt.want)
			}
		})
	}

	statuses := []struct {
		name string
		res  Result
		want string
	}{
		{"full bucket has no reset", Result{Allowed: true, Remaining: 9}, `"api-key";r=9`},
		{"reset rounds up", Result{Allowed: true, Remaining: 3, ResetAfter: 1100 * time.Millisecond}, `"api-key";r=3;t=2`},
		{"denied", Result{RetryAfter: 3 * time.Second, ResetAfter: 3 * time.Second}, `"api-key";r=0;t=3`},
		{"negative remaining", Result{Remaining: -4}, `"api-key";r=0`},
		{"table edge", Result{Remaining: 64, ResetAfter: 15 * time.Second}, `"api-key";r=64;t=15`},
		{"remaining beyond the table", Result{Remaining: 65, ResetAfter: time.Second}, `"api-key";r=65;t=1`},
		{"reset beyond the table", Result{Remaining: 3, ResetAfter: 16 * time.Second}, `"api-key";r=3;t=16`},
		{"large values", Result{Remaining: 1000000, ResetAfter: 90 * time.Minute}, `"api-key";r=1000000;t=5400`},
	}
	for _, tt := range statuses {
		t.Run("status/"+tt.name, func(t *testing.T) {
			if got := StatusValue(tt.res); got != tt.want {
				t.Errorf("StatusValue(%+v) = %s, want %s", tt.res, got, tt.want)
			}
		})
	}
}

func BenchmarkAllowLocal(b *testing.B) {
	lim := rate.NewLimiter(1e9, 1000)
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		AllowLocal(lim, now.Add(time.Duration(i)))
	}
}

// BenchmarkLocalWithHeaders is the whole local step of a request: the
// bucket and both response fields.
func BenchmarkLocalWithHeaders(b *testing.B) {
	l := Limit{PerSecond: 1e9, Burst: 1000}
	lim := rate.NewLimiter(rate.Limit(l.PerSecond), l.Burst)
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		res := AllowLocal(lim, now.Add(time.Duration(i)))
		_ = PolicyValue(l)
		_ = StatusValue(res)
	}
}
