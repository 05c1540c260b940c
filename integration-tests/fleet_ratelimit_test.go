package integrationtests

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

// paceResult counts the outcomes of a paced load.
type paceResult struct {
	sent, admitted, limited int
	other                   []string
}

// paceLoad sends GET requests with token at perSecond for d, one at a
// time, to the gateway pick returns for each request, and counts the
// outcomes. Every denial must be a complete 429 rate_limited.
func paceLoad(t *testing.T, c *http.Client, token string, perSecond int, d time.Duration, pick func(i int, elapsed time.Duration) *gateway) paceResult {
	t.Helper()
	var res paceResult
	ticker := time.NewTicker(time.Second / time.Duration(perSecond))
	defer ticker.Stop()
	start := time.Now()
	for i := 0; ; i++ {
		elapsed := time.Since(start)
		if elapsed >= d {
			return res
		}
		g := pick(i, elapsed)
		resp := get(t, c, g.url(inventoryPath), bearer(token))
		res.sent++
		switch resp.Status {
		case http.StatusOK:
			res.admitted++
		case http.StatusTooManyRequests:
			res.limited++
			if res.limited == 1 {
				checkProblem(t, "a request over the limit", resp, http.StatusTooManyRequests, "rate_limited")
				checkRateLimitFields(t, "a request over the limit", resp, true)
			}
		default:
			if len(res.other) < 5 {
				res.other = append(res.other, resp.describe())
			}
		}
		<-ticker.C
	}
}

var (
	policyField = regexp.MustCompile(`^"api-key";q=\d+;w=\d+$`)
	statusField = regexp.MustCompile(`^"api-key";r=(\d+)(;t=\d+)?$`)
)

// checkRateLimitFields checks the RateLimit-Policy and RateLimit fields
// of a response of a limited key, and Retry-After on a denial.
func checkRateLimitFields(t *testing.T, request string, resp response, denied bool) {
	t.Helper()
	if v := resp.Header.Get("RateLimit-Policy"); !policyField.MatchString(v) {
		t.Errorf("%s: RateLimit-Policy = %q, want \"api-key\";q=N;w=N", request, v)
	}
	v := resp.Header.Get("RateLimit")
	m := statusField.FindStringSubmatch(v)
	if m == nil {
		t.Errorf("%s: RateLimit = %q, want \"api-key\";r=N with an optional ;t=N", request, v)
	} else if denied && m[1] != "0" {
		t.Errorf("%s: RateLimit = %q, want r=0 on a denial", request, v)
	}
	if !denied {
		return
	}
	ra := resp.Header.Get("Retry-After")
	if ra == "" {
		t.Errorf("%s: Retry-After is missing on a 429", request)
	}
	// Retry-After must not point before the reset parameter.
	if m != nil && m[2] != ";t="+ra {
		t.Errorf("%s: RateLimit = %q with Retry-After %q, want t equal to Retry-After", request, v, ra)
	}
}

// TestFleetSharedRateLimit drives one key limited to 10/s at about
// 100 requests/s spread over three instances that share the limit in
// Redis: the fleet admits about the limit, not three times it, also after
// one instance is killed; with Redis stopped each instance falls back to
// its third of the limit.
func TestFleetSharedRateLimit(t *testing.T) {
	limited := newTestKey(t, "fleet-limited")
	limited.Record.RateLimit = &policy.RateLimit{Rate: "10/s", Burst: 10}
	unlimited := newTestKey(t, "fleet-unlimited")
	rig := newFleetRig(t, true, limited, unlimited)
	rig.start(t, 3, "rate_limit_store redis\ninstances 3")
	c := clientFrom(t, "")

	t.Run("fields on every response", func(t *testing.T) {
		resp := get(t, c, rig.gateways[0].url(inventoryPath), bearer(limited.Token))
		checkAllowed(t, "a limited key's request", resp)
		checkRateLimitFields(t, "a limited key's request", resp, false)
		if got := resp.Header.Get("RateLimit-Policy"); got != `"api-key";q=10;w=1` {
			t.Errorf("RateLimit-Policy = %q, want %q", got, `"api-key";q=10;w=1`)
		}
		resp = get(t, c, rig.gateways[1].url(inventoryPath), bearer(unlimited.Token))
		checkAllowed(t, "an unlimited key's request", resp)
		if v := resp.Header.Get("RateLimit"); v != "" {
			t.Errorf("an unlimited key's response has RateLimit %q, want none", v)
		}
	})
	time.Sleep(1100 * time.Millisecond) // the bucket refills

	const (
		rate     = 10
		burst    = 10
		loadRate = 100
		run      = 10 * time.Second
	)
	gws := rig.gateways
	killed := false
	res := paceLoad(t, c, limited.Token, loadRate, run, func(i int, elapsed time.Duration) *gateway {
		if elapsed >= run/2 && !killed {
			gws[2].kill(t)
			killed = true
		}
		if killed {
			return gws[i%2]
		}
		return gws[i%3]
	})
	want := rate*int(run.Seconds()) + burst
	t.Logf("shared limit %d/s burst %d, %d requests in %v over 3 instances (one killed at %v): %d admitted, %d limited, want %d ±10%%",
		rate, burst, res.sent, run, run/2, res.admitted, res.limited, want)
	if len(res.other) > 0 {
		t.Errorf("unexpected responses: %q", res.other)
	}
	if res.admitted < want*9/10 || res.admitted > want*11/10 {
		t.Errorf("admitted %d of %d requests, want %d ±10%% (the limit over %v plus the burst)", res.admitted, res.sent, want, run)
	}

	t.Run("redis keys expire and stay few", func(t *testing.T) {
		// An instance that joins adds no keys of its own.
		rig.start(t, 1, "rate_limit_store redis\ninstances 3")
		late := rig.gateways[len(rig.gateways)-1]
		for range 3 {
			get(t, c, late.url(inventoryPath), bearer(limited.Token))
		}
		keys := rig.redisKeys(t)
		for k, ttl := range keys {
			if !strings.HasPrefix(k, "awra:ratelimit:") {
				t.Errorf("unexpected Redis key %q", k)
			}
			if ttl <= 0 || ttl > time.Second {
				t.Errorf("TTL of %q = %v, want within (0, 1s]: the time to refill the burst", k, ttl)
			}
		}
		if len(keys) != 1 {
			t.Errorf("Redis holds %d keys, want 1 (the bucket of the one limited key)", len(keys))
		}
		rig.checkRedisHoldsNoToken(t)

		time.Sleep(1100 * time.Millisecond)
		if keys := rig.redisKeys(t); len(keys) != 0 {
			t.Errorf("Redis holds %d keys after the bucket refilled, want 0", len(keys))
		}
	})

	t.Run("redis stopped", func(t *testing.T) {
		rig.redis.Stop()
		live := []*gateway{gws[0], gws[1]}
		const outage = 5 * time.Second
		res := paceLoad(t, c, limited.Token, loadRate, outage, func(i int, _ time.Duration) *gateway { return live[i%2] })

		// Each instance enforces 10/3 per second with a burst of 3.
		share := float64(rate)/3*outage.Seconds() + burst/3
		fallback := int(share * 2)
		ceiling := rate*int(outage.Seconds()) + burst
		t.Logf("Redis stopped: %d requests in %v over 2 instances: %d admitted, %d limited; fallback share %d, fleet limit %d",
			res.sent, outage, res.admitted, res.limited, fallback, ceiling)
		if res.admitted > ceiling {
			t.Errorf("admitted %d requests with Redis stopped, want at most %d: the fallback must not open the gate", res.admitted, ceiling)
		}
		if res.admitted < fallback*8/10 {
			t.Errorf("admitted %d requests with Redis stopped, want about %d: each instance's share of the limit", res.admitted, fallback)
		}
		for _, g := range live {
			if n := g.countLogMessages(t, "shared rate limits in Redis unavailable; each instance enforces its share of every key's limit until Redis responds"); n != 1 {
				t.Errorf("gateway logged the fallback warning %d times, want once", n)
			}
		}
	})
}
