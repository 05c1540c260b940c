package ratelimit

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// AllowLocal takes one request from lim at now and returns the outcome.
// It does not allocate. lim must have a positive, finite limit and a
// burst of at least 1, as the registry builds them.
func AllowLocal(lim *rate.Limiter, now time.Time) Result {
	allowed := lim.AllowN(now, 1)
	tokens := lim.TokensAt(now)
	perSecond := float64(lim.Limit())
	burst := float64(lim.Burst())

	res := Result{Allowed: allowed}
	whole := math.Floor(tokens)
	if whole > 0 {
		res.Remaining = int(whole)
	}
	if tokens < burst {
		// The next whole token, which admits one request more than
		// Remaining, arrives after the missing fraction refills.
		res.ResetAfter = secondsToDuration((whole + 1 - tokens) / perSecond)
	}
	if !allowed {
		res.RetryAfter = secondsToDuration((1 - tokens) / perSecond)
	}
	return res
}

// secondsToDuration converts s seconds, capping values that overflow a
// time.Duration.
func secondsToDuration(s float64) time.Duration {
	const maxSeconds = float64(math.MaxInt64 / int64(time.Second))
	if s >= maxSeconds {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * float64(time.Second))
}
