package integrationtests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// alertOptions configures alerts to the receiver at url with a short
// group wait and fast retries, and an audit pipeline per gateway.
func alertOptions(url, spoolRoot, extra string) string {
	return fmt.Sprintf(`alerts {
	webhook %s {
		secret {env.AWRA_ALERT_SECRET}
		timeout 2s
	}
	redis_channel awra:alerts
	group_wait 1s
	cooldown 1m
	max_attempts 3
	backoff 50ms 100ms
	%s
}
audit {
	spool_dir %s
	chain_key {env.AWRA_AUDIT_CHAIN_KEY}
	instance gw{i}
}`, url, extra, filepath.Join(spoolRoot, "gw{i}"))
}

// setAlertEnv puts fresh alert and audit secrets in the environment that
// the gateways inherit, and returns the alert secret.
func setAlertEnv(t *testing.T) string {
	t.Helper()
	secret := newAlertSecret(t)
	t.Setenv("AWRA_ALERT_SECRET", secret)
	chain := make([]byte, 32)
	if _, err := rand.Read(chain); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWRA_AUDIT_CHAIN_KEY", hex.EncodeToString(chain))
	return secret
}

// TestFleetBypassAlerts uses a key from outside its networks on each of
// three instances and checks the one grouped, signed alert; then makes
// the receiver fail (retries, then the dead-letter stream) and hang
// (requests do not wait).
func TestFleetBypassAlerts(t *testing.T) {
	secret := setAlertEnv(t)
	rcv := startAlertReceiver(t, secret)
	key := newTestKey(t, "fleet-alerted")
	rig := newFleetRig(t, true, key)

	ctx := context.Background()
	channel := rig.client.Subscribe(ctx, "awra:alerts")
	if _, err := channel.Receive(ctx); err != nil {
		t.Fatalf("SUBSCRIBE awra:alerts: %v", err)
	}
	t.Cleanup(func() { channel.Close() })
	published := channel.Channel()

	rig.start(t, 3, alertOptions(rcv.url(), t.TempDir(), ""))
	proxy := clientFrom(t, trustedProxyIP)

	sources := []string{"203.0.113.10", "203.0.113.11", "203.0.113.12"}
	for i, g := range rig.gateways {
		resp := get(t, proxy, g.url(inventoryPath), fromOutside(bearer(key.Token), sources[i]))
		checkProblem(t, "a request from outside the key's networks", resp, http.StatusForbidden, "ip_not_allowed")
	}

	alerts := rcv.waitForAlerts(t, 5*time.Second, "the grouped alert", func(a []receivedAlert) bool { return len(a) >= 1 })
	a := alerts[0]
	checkNoTokens(t, "the alert body", a.raw)
	checks := []struct {
		field     string
		got, want any
	}{
		{"type", a.Type, "bypass"},
		{"module", a.Module, "api_key"},
		{"reason", a.Reason, "ip_not_allowed"},
		{"key_id", a.KeyID, key.ID},
		{"owner", a.Owner, key.Record.Owner},
		{"count", a.Count, int64(3)},
		{"source_network", a.SourceNetwork, "203.0.113.0/24"},
		{"allowed_networks", strings.Join(a.AllowedNetworks, " "), strings.Join(key.Record.AllowedCIDRs, " ")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("alert %s = %v, want %v", c.field, c.got, c.want)
		}
	}
	if !slices.Contains(sources, a.ClientIP) {
		t.Errorf("alert client_ip = %q, want one of %q", a.ClientIP, sources)
	}
	if !slices.Contains([]string{"gw1", "gw2", "gw3"}, a.Instance) {
		t.Errorf("alert instance = %q, want gw1, gw2 or gw3", a.Instance)
	}
	if a.FirstSeen.IsZero() || a.LastSeen.Before(a.FirstSeen) || time.Since(a.FirstSeen) > time.Minute {
		t.Errorf("alert first_seen %v, last_seen %v: want recent times, first before last", a.FirstSeen, a.LastSeen)
	}

	select {
	case msg := <-published:
		var onChannel receivedAlert
		if err := json.Unmarshal([]byte(msg.Payload), &onChannel); err != nil || onChannel.ID != a.ID {
			t.Errorf("alert on awra:alerts = %.120s, want the alert %s", msg.Payload, a.ID)
		}
		checkNoTokens(t, "the alert on awra:alerts", []byte(msg.Payload))
	case <-time.After(2 * time.Second):
		t.Error("no alert on the Redis channel awra:alerts within 2s")
	}

	// The other instances must not send the group's alert again.
	time.Sleep(1500 * time.Millisecond)
	if got, _ := rcv.received(); len(got) != 1 {
		t.Errorf("received %d alerts for one group, want 1", len(got))
	}

	t.Run("alert is an audit event", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			for _, m := range rig.client.XRange(ctx, "awra:audit", "-", "+").Val() {
				if m.Values["module"] == "alert" && m.Values["key_id"] == key.ID && strings.Contains(fmt.Sprint(m.Values["detail"]), "alert_id="+a.ID) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("no audit event of module alert for the alert within 5s")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("failing receiver dead-letters", func(t *testing.T) {
		rcv.setMode("fail")
		resp := get(t, proxy, rig.gateways[1].url(inventoryPath), fromOutside(bearer(key.Token), "198.51.100.7"))
		checkProblem(t, "a request from another network", resp, http.StatusForbidden, "ip_not_allowed")

		deadline := time.Now().Add(6 * time.Second)
		for {
			entries := rig.client.XRange(ctx, "awra:alerts:dead", "-", "+").Val()
			if len(entries) == 1 {
				e := entries[0].Values
				if e["key_id"] != key.ID || e["attempts"] != "3" || !strings.Contains(fmt.Sprint(e["error"]), "500") {
					t.Errorf("dead letter = key %v, attempts %v, error %v; want key %s, 3 attempts, the 500", e["key_id"], e["attempts"], e["error"], key.ID)
				}
				if n := rcv.attemptsOf(fmt.Sprint(e["id"])); n != 3 {
					t.Errorf("the receiver saw %d attempts of the dead-lettered alert, want 3", n)
				}
				checkNoTokens(t, "the dead-letter entry", []byte(fmt.Sprint(e)))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("dead-letter stream holds %d entries after 6s, want 1", len(entries))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("hanging receiver does not slow requests", func(t *testing.T) {
		rcv.setMode("hang")
		var latencies []time.Duration
		for i := range 60 {
			g := rig.gateways[i%3]
			// A new /24 per request: every request opens a group and so
			// makes an alert whose delivery hangs.
			start := time.Now()
			resp := get(t, proxy, g.url(inventoryPath), fromOutside(bearer(key.Token), fmt.Sprintf("192.0.%d.9", i)))
			latencies = append(latencies, time.Since(start))
			if resp.Status != http.StatusForbidden {
				t.Fatalf("request %d = %s, want 403 ip_not_allowed", i, resp.describe())
			}
		}
		p99, worst := percentile(latencies, 99), percentile(latencies, 100)
		t.Logf("bypass denials while the alert receiver hangs: p50 %v, p99 %v, max %v over %d requests",
			percentile(latencies, 50), p99, worst, len(latencies))
		// A delivery attempt hangs 2s (the webhook timeout); a request
		// that waited for one would take that long.
		if worst >= time.Second {
			t.Errorf("slowest bypass denial took %v while alert delivery hung, want well under the 2s attempt timeout", worst)
		}
		rcv.setMode("ok")
	})

	for _, g := range rig.gateways {
		if strings.Contains(g.logText(t), secret) {
			t.Errorf("a gateway log contains the alert secret")
		}
	}
	rig.checkRedisHoldsNoToken(t)
	rig.checkRedisKeysExpire(t, "awra:audit", "awra:audit:watermark", "awra:alerts:dead")
}
