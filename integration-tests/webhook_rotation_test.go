package integrationtests

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/internal/testredis"
)

// TestWebhookRotationReplay checks a Stripe route with two secrets, as
// during a rotation, when Stripe signs each delivery with both. A copy of
// a delivery that keeps only one of its two signatures still verifies,
// with the other secret, and must be recognised as a replay, with the
// in-process store and with Redis.
func TestWebhookRotationReplay(t *testing.T) {
	t.Parallel()
	redisServer := testredis.Start(t)
	for _, store := range []struct{ name, options string }{
		{"in-process store", ""},
		{"redis", "redis " + redisServer.URL()},
	} {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			testWebhookRotationReplay(t, store.options)
		})
	}
}

func testWebhookRotationReplay(t *testing.T, awraOptions string) {
	p := webhookProviderNamed(t, "stripe")
	newSecret, oldSecret := p.newSecret(t), p.newSecret(t)
	envs := []string{secretEnv(t, newSecret), secretEnv(t, oldSecret)}
	up := startUpstream(t)
	gw := startGateway(t, gatewayConfig{
		AwraOptions: awraOptions,
		Routes: webhookRoute(p, "/hooks/rotation", "{{.Upstream}}", envs) +
			webhookRoute(p, "/hooks/limited", "{{.Upstream}}", envs, "max_deliveries 1"),
		Upstream: up,
	})
	s := &webhookSetup{p: p, gw: gw, up: up, secret: newSecret}

	// signBoth returns a delivery of body signed at one timestamp with
	// both secrets, and the same signed bytes with the new or the old
	// secret's signature alone.
	signBoth := func(body []byte) (both, onlyNew, onlyOld http.Header) {
		stamp := stampAt(time.Now())
		sigNew := stripeSignature(t, p.sign(newSecret, stamp, "", body))
		sigOld := stripeSignature(t, p.sign(oldSecret, stamp, "", body))
		header := func(sigs ...string) http.Header {
			return http.Header{"Stripe-Signature": {"t=" + stamp + "," + strings.Join(sigs, ",")}}
		}
		return header(sigNew, sigOld), header(sigNew), header(sigOld)
	}

	t.Run("copy with one signature is a replay", func(t *testing.T) {
		body := newWebhookBody(t, "rotation-replay")
		both, onlyNew, onlyOld := signBoth(body)
		before := up.count()
		s.expectForwarded(t, "delivery signed with both secrets", "/hooks/rotation", both, body)
		s.expectDenied(t, "the same bytes again", "/hooks/rotation", both, body, 409, "webhook_replayed")
		s.expectDenied(t, "only the old secret's signature", "/hooks/rotation", onlyOld, body, 409, "webhook_replayed")
		s.expectDenied(t, "only the new secret's signature", "/hooks/rotation", onlyNew, body, 409, "webhook_replayed")
		if got := up.count() - before; got != 1 {
			t.Errorf("upstream requests for the event = %d, want 1", got)
		}
	})

	t.Run("attempts counted once across secrets", func(t *testing.T) {
		body := newWebhookBody(t, "rotation-limit")
		both, _, onlyOld := signBoth(body)
		before := up.count()
		up.setResponse(upstreamResponse{Status: http.StatusInternalServerError, Body: []byte("upstream failed")})
		resp := postWebhook(t, gw, "/hooks/limited", both, body)
		up.setResponse(defaultUpstreamResponse())
		if resp.Status != http.StatusInternalServerError {
			t.Fatalf("delivery to a failing upstream = %s, want the upstream's 500", resp.describe())
		}
		s.expectDenied(t, "the failed delivery with only the old signature", "/hooks/limited", onlyOld, body, 429, "retry_limit_exceeded")
		if got := up.count() - before; got != 1 {
			t.Errorf("upstream requests for the event = %d, want 1", got)
		}
	})
}

// stripeSignature returns the "v1=<hex>" item of a Stripe-Signature
// header that the fixture signed.
func stripeSignature(t *testing.T, h http.Header) string {
	t.Helper()
	for item := range strings.SplitSeq(h.Get("Stripe-Signature"), ",") {
		if strings.HasPrefix(item, "v1=") {
			return item
		}
	}
	t.Fatal("the fixture's Stripe-Signature has no v1 item")
	return ""
}
