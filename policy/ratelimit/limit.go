// Package ratelimit enforces the per-key request rates of API keys. It
// offers a local token bucket (golang.org/x/time/rate) for one gateway, a
// GCRA bucket in Redis that every gateway instance shares through one
// script call per request, a fallback that splits the limit between the
// instances while Redis cannot be reached, and the RateLimit-Policy and
// RateLimit response fields of the IETF httpapi rate limit headers draft.
//
// The package imports nothing from Caddy. Local decisions take the time as
// a parameter. The Redis bucket reads the Redis server's clock instead, so
// that instances whose clocks differ still agree on one bucket.
package ratelimit

import (
	"math"
	"time"

	"github.com/awra/awragate/policy"
)

// Limit is a token bucket: PerSecond requests per second on average, with
// bursts of up to Burst requests.
type Limit struct {
	PerSecond float64
	Burst     int
}

// FromRecord converts a key's stored rate limit. It returns false when rl
// is nil or invalid; the registry only holds validated records, so a
// false result means the key has no limit.
func FromRecord(rl *policy.RateLimit) (Limit, bool) {
	if rl == nil {
		return Limit{}, false
	}
	perSecond, err := rl.PerSecond()
	if err != nil || rl.Burst < 1 {
		return Limit{}, false
	}
	return Limit{PerSecond: perSecond, Burst: rl.Burst}, true
}

// Split returns the share of l that each of instances gateways enforces
// on its own: the rate divided by instances, and the burst divided by
// instances rounded down but at least 1. So the instances together admit
// at most l, except that a burst smaller than instances becomes one
// request per instance. instances below 2 returns l unchanged.
func (l Limit) Split(instances int) Limit {
	if instances < 2 {
		return l
	}
	return Limit{
		PerSecond: l.PerSecond / float64(instances),
		Burst:     max(1, l.Burst/instances),
	}
}

// Result is the outcome of taking one request from a bucket, with the
// figures the response headers report.
type Result struct {
	// Allowed reports whether the request may pass.
	Allowed bool

	// Remaining is the number of further requests the bucket admits right
	// now, after this one.
	Remaining int

	// RetryAfter is the wait until the bucket admits one request. It is
	// zero when Allowed is true.
	RetryAfter time.Duration

	// ResetAfter is the wait until the bucket admits one request more
	// than Remaining, the reset parameter "t" of the RateLimit field. On a
	// denial it equals RetryAfter. It is zero only for a full bucket.
	ResetAfter time.Duration
}

// RetryAfterSeconds returns RetryAfter rounded up to whole seconds, at
// least 1, as the Retry-After header needs.
func (r Result) RetryAfterSeconds() int {
	return ceilSeconds(r.RetryAfter, 1)
}

// ceilSeconds rounds d up to whole seconds and returns at least floor.
func ceilSeconds(d time.Duration, floor int) int {
	if d <= 0 {
		return floor
	}
	s := math.Ceil(d.Seconds())
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return max(floor, int(s))
}
