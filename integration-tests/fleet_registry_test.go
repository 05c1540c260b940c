package integrationtests

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// observation is one response seen during a load.
type observation struct {
	at     time.Time
	status int
}

// loadUntil sends requests with token to g, about one every 5ms, until
// stop is closed, and returns what it saw.
func loadUntil(t *testing.T, c *http.Client, g *gateway, token string, stop <-chan struct{}) []observation {
	var seen []observation
	for {
		select {
		case <-stop:
			return seen
		default:
		}
		resp := get(t, c, g.url(inventoryPath), bearer(token))
		seen = append(seen, observation{at: time.Now(), status: resp.Status})
		time.Sleep(5 * time.Millisecond)
	}
}

// refusedAfter returns how long after start g first refused the key, and
// whether it admitted the key again after that.
func refusedAfter(seen []observation, start time.Time, refusal int) (time.Duration, bool, bool) {
	for i, o := range seen {
		if o.at.Before(start) || o.status != refusal {
			continue
		}
		for _, later := range seen[i+1:] {
			if later.status == http.StatusOK {
				return o.at.Sub(start), true, true
			}
		}
		return o.at.Sub(start), true, false
	}
	return 0, false, false
}

// TestFleetRegistryRevocation revokes a key of the fleet registry while
// three instances serve it under load: each refuses it within a second
// through pub/sub. With the subscribers disabled, a suspension still
// takes effect within keys_cache_ttl; with Redis stopped, the last known
// registry keeps serving.
func TestFleetRegistryRevocation(t *testing.T) {
	const ttl = 2 * time.Second
	options := "keys_store redis\nkeys_cache_ttl 2s"

	t.Run("pubsub", func(t *testing.T) {
		rig := newFleetRig(t, false)
		rig.start(t, 3, options)
		c := clientFrom(t, "")
		token := createFleetKey(t, rig.redis.URL(), "fleet-revoked")
		created := waitForStatus(t, c, rig.gateways, token, http.StatusOK, time.Now(), 3*time.Second)
		t.Logf("new key served by all three after at most %v", percentile(created, 100))

		stop := make(chan struct{})
		results := make([][]observation, len(rig.gateways))
		var wg sync.WaitGroup
		for i, g := range rig.gateways {
			wg.Go(func() { results[i] = loadUntil(t, c, g, token, stop) })
		}
		time.Sleep(300 * time.Millisecond)

		start := time.Now()
		runKeysCLI(t, "revoke", "fleet-revoked", "--redis", rig.redis.URL())
		cliDone := time.Since(start)
		time.Sleep(1500 * time.Millisecond)
		close(stop)
		wg.Wait()

		for i, seen := range results {
			after, refused, readmitted := refusedAfter(seen, start, http.StatusUnauthorized)
			t.Logf("gw%d: %d requests; refused %v after the revoke command started (the command took %v)", i+1, len(seen), after, cliDone)
			switch {
			case !refused:
				t.Errorf("gw%d never refused the revoked key", i+1)
			case after > time.Second:
				t.Errorf("gw%d refused the revoked key after %v, want within 1s", i+1, after)
			case readmitted:
				t.Errorf("gw%d admitted the revoked key again after refusing it", i+1)
			}
		}
		resp := get(t, c, rig.gateways[0].url(inventoryPath), bearer(token))
		checkProblem(t, "a revoked key", resp, http.StatusUnauthorized, "key_revoked")

		stdout, _ := runKeysCLI(t, "show", "fleet-revoked", "--redis", rig.redis.URL())
		if !strings.Contains(stdout, "revoked") {
			t.Errorf("keys show --redis = %q, want the revoked status", stdout)
		}
		rig.checkRedisHoldsNoToken(t)
		rig.checkRedisKeysExpire(t, "awra:keys", "awra:keys:rev")
	})

	t.Run("pubsub disabled", func(t *testing.T) {
		t.Setenv("AWRA_TEST_DISABLE_PUBSUB", "1")
		rig := newFleetRig(t, false)
		rig.start(t, 3, options+"\nalerts {\n\tgroup_wait 1s\n\tquarantine_after 1 1m\n}")
		c := clientFrom(t, "")
		suspended := createFleetKey(t, rig.redis.URL(), "fleet-suspended")
		kept := createFleetKey(t, rig.redis.URL(), "fleet-kept")
		scanned := createFleetKey(t, rig.redis.URL(), "fleet-scanned")
		for _, token := range []string{suspended, kept, scanned} {
			waitForStatus(t, c, rig.gateways, token, http.StatusOK, time.Now(), ttl+time.Second)
		}

		start := time.Now()
		runKeysCLI(t, "suspend", "fleet-suspended", "--redis", rig.redis.URL())
		seen := waitForStatus(t, c, rig.gateways, suspended, http.StatusForbidden, start, 2*ttl)
		worst := percentile(seen, 100)
		t.Logf("without pub/sub, suspension refused by all three after: %v (keys_cache_ttl %v)", seen, ttl)
		if worst > ttl+200*time.Millisecond {
			t.Errorf("slowest instance refused the suspended key after %v, want within keys_cache_ttl %v (+200ms for the command)", worst, ttl)
		}
		resp := get(t, c, rig.gateways[1].url(inventoryPath), bearer(suspended))
		checkProblem(t, "a suspended key", resp, http.StatusForbidden, "key_suspended")

		for _, g := range rig.gateways {
			if g.countLogMessages(t, "fleet pub/sub subscribers disabled by a test-only environment variable; changes reach this instance only through the periodic refresh") != 1 {
				t.Errorf("gateway did not log once that pub/sub is disabled")
			}
		}

		t.Run("quarantine without pubsub", func(t *testing.T) {
			proxy := clientFrom(t, trustedProxyIP)
			resp := get(t, proxy, rig.gateways[0].url(inventoryPath), fromOutside(bearer(scanned), "203.0.113.50"))
			checkProblem(t, "a request from outside the key's networks", resp, http.StatusForbidden, "ip_not_allowed")
			start := time.Now()
			seen := waitForStatus(t, c, rig.gateways[1:], scanned, http.StatusForbidden, start, 3*time.Second)
			t.Logf("without pub/sub, quarantine refused by gw2 and gw3 after: %v (refresh every 1s)", seen)
			if worst := percentile(seen, 100); worst > 1500*time.Millisecond {
				t.Errorf("slowest instance refused the quarantined key after %v, want within the 1s refresh (+500ms)", worst)
			}
		})

		t.Run("redis stopped", func(t *testing.T) {
			rig.redis.Stop()
			deadline := time.Now().Add(ttl + time.Second)
			for _, g := range rig.gateways {
				g.waitForLogEntry(t, 0, time.Until(deadline)+time.Second, "about the unreachable registry", func(e logEntry) bool {
					return e.str("msg") == "key registry in Redis unreachable; the last known registry keeps serving"
				})
				checkAllowed(t, "a key of the last known registry", get(t, c, g.url(inventoryPath), bearer(kept)))
				checkProblem(t, "a suspended key of the last known registry", get(t, c, g.url(inventoryPath), bearer(suspended)), http.StatusForbidden, "key_suspended")
			}
		})
	})
}
