package awra

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/internal/testredis"
	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/fleet"
	"github.com/awra/awragate/policy/keystore"
)

// provisionApp provisions a in a fresh Caddy context and cleans it up
// when the test ends.
func provisionApp(t *testing.T, a *App) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	err := a.Provision(ctx)
	if err == nil {
		t.Cleanup(func() {
			if err := a.Cleanup(); err != nil {
				t.Errorf("Cleanup: %v", err)
			}
		})
	}
	return err
}

func newStandardSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

func TestAppProvisionFleetErrors(t *testing.T) {
	secret := newStandardSecret(t)
	t.Setenv("AWRA_TEST_ALERT_SECRET", secret)
	t.Setenv("AWRA_TEST_ALERT_EMPTY", "")
	t.Setenv("AWRA_TEST_ALERT_SHORT", "whsec_"+base64.StdEncoding.EncodeToString([]byte("too short")))
	const redisURL = "redis://127.0.0.1:1/0" // never dialled by these checks
	webhook := func(url, secret string) *AlertsConfig {
		return &AlertsConfig{Webhook: &AlertWebhook{URL: url, Secret: secret}}
	}

	tests := []struct {
		name    string
		app     App
		wantErr string
	}{
		{"shared limit without redis", App{RateLimitStore: "redis"}, "rate_limit_store redis needs the redis option"},
		{"unknown limit store", App{RateLimitStore: "memcached"}, "rate_limit_store: invalid value 'memcached'"},
		{"fleet keys without redis", App{KeysStore: "redis"}, "keys_store redis needs the redis option"},
		{"fleet keys and keys file", App{Redis: redisURL, KeysStore: "redis", KeysFile: "keys.json"}, "exclude each other"},
		{"unknown keys store", App{KeysStore: "etcd"}, "keys_store: invalid value 'etcd'"},
		{"negative instances", App{Instances: -2}, "instances: invalid value -2"},
		{"quarantine without redis", App{Alerts: &AlertsConfig{QuarantineAfter: &QuarantineRule{Denials: 5, Window: caddy.Duration(time.Minute)}}}, "quarantine_after needs the redis option"},
		{"quarantine window too long", App{Redis: redisURL, Alerts: &AlertsConfig{QuarantineAfter: &QuarantineRule{Denials: 5, Window: caddy.Duration(48 * time.Hour)}}}, "invalid window 48h0m0s"},
		{"channel without redis", App{Alerts: &AlertsConfig{RedisChannel: "awra:alerts"}}, "redis_channel 'awra:alerts' needs the redis option"},
		{"too many attempts", App{Alerts: &AlertsConfig{MaxAttempts: 1000}}, "max_attempts: invalid value 1000"},
		{"backoff reversed", App{Alerts: &AlertsConfig{MinBackoff: caddy.Duration(time.Minute), MaxBackoff: caddy.Duration(time.Second)}}, "below the minimum"},
		{"webhook without url", App{Alerts: webhook("", "{env.AWRA_TEST_ALERT_SECRET}")}, "webhook URL is missing"},
		{"webhook bad scheme", App{Alerts: webhook("ftp://example.com/x", "{env.AWRA_TEST_ALERT_SECRET}")}, "invalid alert webhook URL"},
		{"secret empty", App{Alerts: webhook("https://example.com/x", "{env.AWRA_TEST_ALERT_EMPTY}")}, "webhook secret is empty"},
		{"secret unset", App{Alerts: webhook("https://example.com/x", "{env.AWRA_TEST_ALERT_NEVER_SET}")}, "webhook secret is empty"},
		{"secret too short", App{Alerts: webhook("https://example.com/x", "{env.AWRA_TEST_ALERT_SHORT}")}, "not a Standard Webhooks secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.app
			err := provisionApp(t, &a)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Provision error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(secret, "whsec_")) {
				t.Errorf("Provision error contains the alert secret")
			}
		})
	}
}

func TestAppProvisionFleetKeys(t *testing.T) {
	srv := testredis.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { client.Close() })
	editor := &fleet.Editor{Client: client}
	token, _, err := editor.Create(keystore.CreateOptions{
		ID: "fleet-k", Scopes: []string{"inventory:read"}, AllowedCIDRs: []string{"10.0.0.0/8"}, ExpiresIn: time.Hour,
	}, time.Now())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}

	a := App{Redis: srv.URL(), KeysStore: "redis", KeysCacheTTL: caddy.Duration(time.Hour), Instance: "unit"}
	if err := provisionApp(t, &a); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	authenticate := func() policy.Reason {
		return a.Registry().Authenticate(policy.AuthRequest{
			Token: token, ClientIP: mustParseAddr(t, "10.1.1.1"), Now: time.Now(),
		}).Reason
	}
	if got := authenticate(); got != policy.ReasonNone {
		t.Fatalf("Authenticate after Provision = %q, want allowed", got)
	}

	// The TTL is an hour, so only the pub/sub event can bring the change.
	if _, err := editor.Revoke("fleet-k", time.Now()); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for authenticate() != policy.ReasonKeyRevoked {
		if time.Now().After(deadline) {
			t.Fatalf("Authenticate 2s after the revocation = %q, want key_revoked", authenticate())
		}
		time.Sleep(5 * time.Millisecond)
	}

	t.Run("metrics", func(t *testing.T) {
		values := gatherFleetMetrics(t, newFleetCollector(&a))
		if values["caddy_awra_keys_store_up"] != 1 || values["caddy_awra_keys"] != 1 {
			t.Errorf("metrics = %v, want keys_store_up 1 and keys 1", values)
		}
		srv.Kill()
		deadline := time.Now().Add(2 * time.Second)
		for a.fleetKeys.state.up() {
			// The refresher checks every TTL/2; a sync forces a read.
			a.fleetKeys.sync()
			if time.Now().After(deadline) {
				t.Fatal("the key store still reports Redis up 2s after it was killed")
			}
		}
		values = gatherFleetMetrics(t, newFleetCollector(&a))
		if values["caddy_awra_keys_store_up"] != 0 {
			t.Errorf("caddy_awra_keys_store_up with Redis down = %v, want 0", values["caddy_awra_keys_store_up"])
		}
		if got := authenticate(); got != policy.ReasonKeyRevoked {
			t.Errorf("Authenticate with Redis down = %q, want the last known state key_revoked", got)
		}
	})
}

func gatherFleetMetrics(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatalf("Register: %v", err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			out[f.GetName()] = metricValue(m)
		}
	}
	return out
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return 0
}

func mustParseAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	return netip.MustParseAddr(s)
}
