package integrationtests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFleetWebhookSourceAlert sends a webhook delivery from outside the
// route's source_cidrs and checks that security admins get a signed
// alert for it, as they do for an API key used from outside its networks.
func TestFleetWebhookSourceAlert(t *testing.T) {
	secret := setAlertEnv(t)
	rcv := startAlertReceiver(t, secret)
	rig := newFleetRig(t, true, newTestKey(t, "unused"))

	hookSecret := newAlertSecret(t) // any random secret works for github
	t.Setenv("AWRA_IT_HOOK_SECRET", hookSecret)
	watchSecret("webhook alert test secret", hookSecret)

	gw := startGateway(t, gatewayConfig{
		KeysFile:    rig.keysFile,
		AwraOptions: fmt.Sprintf("redis %s\ninstance gw1\n%s", rig.redis.URL(), strings.ReplaceAll(alertOptions(rcv.url(), t.TempDir(), ""), "{i}", "1")),
		Routes: `
	handle /hooks/github {
		awra_webhook {
			provider github
			secret {env.AWRA_IT_HOOK_SECRET}
			source_cidrs 192.0.2.0/24
		}
		reverse_proxy {{.Upstream}}
	}
	handle {
		respond 404
	}
`,
		Upstream: rig.upstream,
	})

	// The source check comes before the body is read, so no body is needed.
	proxy := clientFrom(t, trustedProxyIP)
	resp := send(t, proxy, http.MethodPost, gw.url("/hooks/github"), http.Header{"X-Forwarded-For": {"203.0.113.50"}})
	checkProblem(t, "a delivery from outside source_cidrs", resp, http.StatusForbidden, "source_ip_not_allowed")

	alerts := rcv.waitForAlerts(t, 5*time.Second, "the source alert", func(a []receivedAlert) bool { return len(a) >= 1 })
	a := alerts[0]
	checkNoTokens(t, "the alert body", a.raw)
	checks := []struct {
		field     string
		got, want any
	}{
		{"module", a.Module, "webhook"},
		{"reason", a.Reason, "source_ip_not_allowed"},
		{"key_id", a.KeyID, "webhook:github"},
		{"client_ip", a.ClientIP, "203.0.113.50"},
		{"count", a.Count, int64(1)},
		{"allowed_networks", strings.Join(a.AllowedNetworks, " "), "192.0.2.0/24"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("alert %s = %v, want %v", c.field, c.got, c.want)
		}
	}
	if strings.Contains(string(a.raw), hookSecret) {
		t.Error("the alert body contains the webhook secret")
	}
}
