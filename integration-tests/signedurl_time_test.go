package integrationtests

import (
	"net/http"
	"testing"
	"time"
)

// TestSignedURLTimeLimits checks expiry and lifetime near their limits.
// The gateway reads its own clock, which a test cannot set, so each expiry
// is computed from the test's clock and rounded to whole seconds in the
// direction that keeps the outcome fixed. Where the outcome depends on how
// long the request takes to reach the gateway, the comment on the row
// states how much time it has: at least a second, while a request takes
// milliseconds.
//
// The gateway tolerates clock_skew on both sides: a link is expired when
// the gateway's clock is more than clock_skew past its expiry, and its
// lifetime is too long when its expiry is more than max_ttl plus
// clock_skew ahead.
func TestSignedURLTimeLimits(t *testing.T) {
	t.Parallel()
	key := newURLKey(t, "k-time")
	gw, up := startSignedURLGateway(t, key)
	host := gw.addr()

	now := time.Now()
	floor := now.Truncate(time.Second)
	ceil := floor.Add(time.Second)

	tests := []struct {
		name    string
		expires time.Time
		reason  string // empty for a link that passes
	}{
		// floor-skew-1s plus the skew is before the test's clock, which
		// the gateway's clock can only pass, so the link is always
		// 1 to 2 seconds past the tolerance.
		{"expired one second past the skew", floor.Add(-urlClockSkew - time.Second), "url_expired"},
		{"expired an hour ago", floor.Add(-time.Hour), "url_expired"},
		// Expired 25 s ago as signed, but inside the 30 s skew: the
		// request has 4 to 5 seconds to arrive before it is past it.
		{"expired but inside the skew", floor.Add(-urlClockSkew + 5*time.Second), ""},
		{"expires in a second", ceil.Add(time.Second), ""},
		// floor+max_ttl is at most max_ttl ahead of any later clock.
		{"lifetime exactly max_ttl", floor.Add(urlMaxTTL), ""},
		{"lifetime over max_ttl but inside the skew", floor.Add(urlMaxTTL + urlClockSkew - 5*time.Second), ""},
		// ceil+max_ttl+skew+1s stays more than max_ttl+skew ahead of the
		// gateway's clock for 1 to 2 seconds after the test's clock read.
		{"lifetime one second over max_ttl plus skew", ceil.Add(urlMaxTTL + urlClockSkew + time.Second), "url_ttl_too_long"},
		{"lifetime of seven days", floor.Add(7 * 24 * time.Hour), "url_ttl_too_long"},
		{"expiry in 2286", time.Unix(9_999_999_999, 0), "url_ttl_too_long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := mintURL(t, key, http.MethodGet, host, "/files/report.pdf?x=1", tt.expires)
			before := up.count()
			resp := rawGet(t, host, target, nil)
			if tt.reason == "" {
				checkAllowed(t, "GET "+tt.name, resp)
				return
			}
			checkURLDenied(t, "GET "+tt.name, resp, up, before, target, tt.reason)
		})
	}
}
