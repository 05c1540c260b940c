package integrationtests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// waitForStatus polls gateways with token until each responds with want, and
// returns the time each first did, measured from start. It fails the
// test after timeout.
func waitForStatus(t *testing.T, c *http.Client, gws []*gateway, token string, want int, start time.Time, timeout time.Duration) []time.Duration {
	t.Helper()
	seen := make([]time.Duration, len(gws))
	left := len(gws)
	for left > 0 {
		for i, g := range gws {
			if seen[i] != 0 {
				continue
			}
			resp := get(t, c, g.url(inventoryPath), bearer(token))
			if resp.Status == want {
				seen[i] = max(time.Since(start), time.Nanosecond)
				left--
			}
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %v, %d of %d gateways still do not answer %d", timeout, left, len(gws), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return seen
}

// TestFleetQuarantine makes one instance quarantine a key after
// quarantine_after bypass denials and measures how fast the other
// instances refuse it, over repeated trials; 'awragate keys resume'
// restores it everywhere.
func TestFleetQuarantine(t *testing.T) {
	secret := setAlertEnv(t)
	rcv := startAlertReceiver(t, secret)
	key := newTestKey(t, "fleet-quarantined")
	rig := newFleetRig(t, true, key)
	rig.start(t, 3, alertOptions(rcv.url(), t.TempDir(), "quarantine_after 3 1m"))
	proxy := clientFrom(t, trustedProxyIP)
	c := clientFrom(t, "")

	const trials = 20
	var propagation, restore []time.Duration
	for trial := range trials {
		for n := range 3 {
			resp := get(t, proxy, rig.gateways[0].url(inventoryPath), fromOutside(bearer(key.Token), fmt.Sprintf("203.0.%d.%d", 100+trial, n+1)))
			if resp.Status != http.StatusForbidden {
				t.Fatalf("trial %d: bypass attempt %d = %s, want 403", trial, n+1, resp.describe())
			}
		}
		start := time.Now()
		seen := waitForStatus(t, c, rig.gateways[1:], key.Token, http.StatusForbidden, start, 5*time.Second)
		propagation = append(propagation, seen...)

		resp := get(t, c, rig.gateways[0].url(inventoryPath), bearer(key.Token))
		checkProblem(t, "a quarantined key on the instance that quarantined it", resp, http.StatusForbidden, "key_quarantined")

		_, stderr := runKeysCLI(t, "resume", key.ID, "--file", rig.keysFile, "--redis", rig.redis.URL())
		if trial == 0 && !strings.Contains(stderr, "lifted the quarantine") {
			t.Errorf("keys resume stderr = %q, want a note that the quarantine was lifted", stderr)
		}
		start = time.Now()
		restore = append(restore, waitForStatus(t, c, rig.gateways, key.Token, http.StatusOK, start, 5*time.Second)...)
	}

	p99 := percentile(propagation, 99)
	t.Logf("quarantine on gw1 refused by gw2 and gw3 after: p50 %v, p99 %v, max %v (%d measurements over %d trials)",
		percentile(propagation, 50), p99, percentile(propagation, 100), len(propagation), trials)
	t.Logf("resume accepted by all three after: p50 %v, p99 %v, max %v", percentile(restore, 50), percentile(restore, 99), percentile(restore, 100))
	if p99 > time.Second {
		t.Errorf("p99 of the quarantine propagation = %v, want at most 1s", p99)
	}

	t.Run("refusal reason", func(t *testing.T) {
		for n := range 3 {
			get(t, proxy, rig.gateways[0].url(inventoryPath), fromOutside(bearer(key.Token), fmt.Sprintf("198.51.100.%d", n+1)))
		}
		waitForStatus(t, c, rig.gateways[2:], key.Token, http.StatusForbidden, time.Now(), 5*time.Second)
		resp := get(t, c, rig.gateways[2].url(inventoryPath), bearer(key.Token))
		checkProblem(t, "a quarantined key", resp, http.StatusForbidden, "key_quarantined")
		// A wrong secret learns nothing about the quarantine.
		resp = get(t, c, rig.gateways[2].url(inventoryPath), bearer(newToken(t, key.ID)))
		checkProblem(t, "a wrong token of a quarantined key", resp, http.StatusUnauthorized, "key_invalid")
	})

	t.Run("quarantine alert", func(t *testing.T) {
		rcv.waitForAlerts(t, 5*time.Second, "a quarantine alert", func(alerts []receivedAlert) bool {
			for _, a := range alerts {
				if a.Type == "quarantine" && a.Quarantined && a.KeyID == key.ID && a.Count == 3 && a.Reason == "key_quarantined" {
					return true
				}
			}
			return false
		})
	})

	t.Run("audited", func(t *testing.T) {
		reasons := map[string]bool{}
		deadline := time.Now().Add(5 * time.Second)
		for !(reasons["key_quarantined"] && reasons["key_quarantine_lifted"]) {
			for _, m := range rig.client.XRange(t.Context(), "awra:audit", "-", "+").Val() {
				if m.Values["module"] == "admin" && m.Values["key_id"] == key.ID {
					reasons[fmt.Sprint(m.Values["reason"])] = true
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("admin audit events of %s = %v, want key_quarantined and key_quarantine_lifted", key.ID, reasons)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	rig.checkRedisHoldsNoToken(t)
	rig.checkRedisKeysExpire(t, "awra:audit", "awra:audit:watermark", "awra:quarantine")
}
