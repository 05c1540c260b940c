package integrationtests

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// webhookLogFilter is the access log filter of Caddyfile.example: the API
// key header and every provider's signature header are deleted.
// X-Signature is the hmac provider's custom header, which needs its own
// line.
const webhookLogFilter = `filter {
			request>headers>X-Api-Key delete
			request>headers>X-Paystack-Signature delete
			request>headers>Intuit-Signature delete
			request>headers>Stripe-Signature delete
			request>headers>X-Hub-Signature delete
			request>headers>X-Hub-Signature-256 delete
			request>headers>X-Shopify-Hmac-Sha256 delete
			request>headers>X-Slack-Signature delete
			request>headers>Webhook-Signature delete
			request>headers>Svix-Signature delete
			request>headers>X-Signature delete
		}`

// TestWebhookAccessLog checks what Caddy's access log records of a signed
// delivery: the signature header, unless the log filter deletes it.
func TestWebhookAccessLog(t *testing.T) {
	t.Parallel()
	for _, filtered := range []bool{true, false} {
		name := "unfiltered"
		format := "json"
		if filtered {
			name = "filtered"
			format = webhookLogFilter
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The file is in the suite directory, so the end-of-suite
			// secret scan can still read it.
			file := filepath.Join(suite.dir, fileSafe(t.Name())+"-access.log")
			var routes strings.Builder
			fmt.Fprintf(&routes, "log {\n\t\toutput file %s\n\t\tformat %s\n\t}\n", file, format)
			secrets := make(map[string]string)
			for _, p := range webhookProviders {
				secret := p.newSecret(t)
				watchSecret("webhook secret of "+p.name, secret)
				secrets[p.name] = secret
				routes.WriteString(webhookRoute(p, "/hooks/"+p.name, "{{.Upstream}}", []string{secretEnv(t, secret)}))
			}
			up := startUpstream(t)
			gw := startGateway(t, gatewayConfig{Routes: routes.String(), Upstream: up})
			watchLogFile(file)

			signatures := make(map[string]string)
			for _, p := range webhookProviders {
				body := newWebhookBody(t, "charge.success")
				header := p.sign(secrets[p.name], stampAt(time.Now()), newMessageID(t), body)
				resp := postWebhook(t, gw, "/hooks/"+p.name, header, body)
				if resp.Status != http.StatusOK {
					t.Fatalf("POST /hooks/%s = %d, want 200; body: %s", p.name, resp.Status, resp.Body)
				}
				signatures[p.name] = header.Get(p.signatureHeader)
			}

			log := waitForAccessLog(t, file, len(webhookProviders))
			for _, p := range webhookProviders {
				if got := strings.Contains(log, signatures[p.name]); got == filtered {
					t.Errorf("%s: access log contains the %s value = %t, want %t", p.name, p.signatureHeader, got, !filtered)
				}
			}
		})
	}
}
