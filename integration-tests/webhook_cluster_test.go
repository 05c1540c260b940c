package integrationtests

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/awra/awragate/internal/testredis"
)

// webhookProviderNamed returns the fixture of provider name.
func webhookProviderNamed(t *testing.T, name string) webhookProvider {
	t.Helper()
	for _, p := range webhookProviders {
		if p.name == name {
			return p
		}
	}
	t.Fatalf("no webhook provider fixture named %q", name)
	return webhookProvider{}
}

// TestWebhookSharedRedis runs two gateway instances on one Redis and
// checks that a delivery judged by one is known to the other.
func TestWebhookSharedRedis(t *testing.T) {
	t.Parallel()
	redisServer := testredis.Start(t)
	stripe := webhookProviderNamed(t, "stripe")
	paystack := webhookProviderNamed(t, "paystack")
	stripeSecret, paystackSecret := stripe.newSecret(t), paystack.newSecret(t)
	stripeEnv, paystackEnv := secretEnv(t, stripeSecret), secretEnv(t, paystackSecret)

	up := startUpstream(t)
	slow := startDelayedUpstream(t, 400*time.Millisecond)
	cfg := gatewayConfig{
		AwraOptions: "redis " + redisServer.URL(),
		Routes: webhookRoute(stripe, "/hooks/stripe", "{{.Upstream}}", []string{stripeEnv}) +
			webhookRoute(paystack, "/hooks/paystack", "{{.Upstream}}", []string{paystackEnv}) +
			webhookRoute(paystack, "/hooks/slow", slow.addr(), []string{paystackEnv}),
		Upstream: up,
	}
	a := startGateway(t, cfg)
	cfg.LogLevel = "DEBUG" // to see allowed decisions in the log
	b := startGateway(t, cfg)

	if strings.Contains(a.logText(t), inProcessStoreNotice) {
		t.Error("a gateway with Redis logged that its replay store is in-process")
	}

	onA := &webhookSetup{p: stripe, gw: a, up: up, secret: stripeSecret}
	onB := &webhookSetup{p: stripe, gw: b, up: up, secret: stripeSecret}

	t.Run("replay on the other instance", func(t *testing.T) {
		body := newWebhookBody(t, "cluster-replay")
		h := onA.signNow(t, body)
		onA.expectForwarded(t, "delivery to A", "/hooks/stripe", h, body)
		onB.expectDenied(t, "same bytes to B", "/hooks/stripe", h, body, 409, "webhook_replayed")
	})

	t.Run("timestamped duplicate on the other instance", func(t *testing.T) {
		body := newWebhookBody(t, "cluster-duplicate")
		onA.expectForwarded(t, "delivery to A", "/hooks/stripe", onA.sign(t, stripeSecret, stampAt(time.Now().Add(-10*time.Second)), body), body)
		before := up.count()
		resp := postWebhook(t, b, "/hooks/stripe", onB.signNow(t, body), body)
		checkDuplicateAnswer(t, "provider retry to B", resp)
		if up.count() != before {
			t.Error("the duplicate was forwarded")
		}
	})

	t.Run("duplicate without timestamp, audited", func(t *testing.T) {
		body := newWebhookBody(t, "cluster-paystack")
		h := paystack.sign(paystackSecret, "", "", body)
		pa := &webhookSetup{p: paystack, gw: a, up: up, secret: paystackSecret}
		pa.expectForwarded(t, "delivery to A", "/hooks/paystack", h, body)
		before := up.count()
		resp := postWebhook(t, b, "/hooks/paystack", h, body)
		checkDuplicateAnswer(t, "same bytes to B", resp)
		if up.count() != before {
			t.Error("the duplicate was forwarded")
		}
		checkDuplicateLogged(t, b, resp)
	})

	t.Run("retry on the other instance after upstream 500", func(t *testing.T) {
		body := newWebhookBody(t, "cluster-retry")
		h := onA.signNow(t, body)
		up.setResponse(upstreamResponse{Status: http.StatusInternalServerError, Body: []byte("upstream failed")})
		resp := postWebhook(t, a, "/hooks/stripe", h, body)
		up.setResponse(defaultUpstreamResponse())
		if resp.Status != http.StatusInternalServerError {
			t.Fatalf("delivery to A = %s, want the upstream's 500", resp.describe())
		}
		onB.expectForwarded(t, "same bytes to B", "/hooks/stripe", h, body)
	})

	t.Run("simultaneous copies reach the upstream once", func(t *testing.T) {
		body := newWebhookBody(t, "cluster-race")
		h := paystack.sign(paystackSecret, "", "", body)
		const copies = 8
		responses := make([]response, copies)
		errs := make([]error, copies)
		var wg sync.WaitGroup
		for i := range copies {
			gw := a
			if i%2 == 1 {
				gw = b
			}
			wg.Go(func() { responses[i], errs[i] = tryPostWebhook(gw, "/hooks/slow", h, body) })
		}
		wg.Wait()

		forwarded := 0
		for i, resp := range responses {
			switch {
			case errs[i] != nil:
				t.Errorf("copy %d: %v", i, errs[i])
			case resp.Status == http.StatusOK && bytes.Equal(resp.Body, defaultUpstreamResponse().Body):
				forwarded++
			case resp.Status == http.StatusConflict:
				checkProblem(t, "in-flight copy", resp, 409, "webhook_replayed")
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("copy %d: the in-flight 409 has no Retry-After", i)
				}
			default:
				// A copy that arrives after the first one finished.
				checkDuplicateAnswer(t, "late copy", resp)
			}
		}
		if forwarded != 1 || slow.count() != 1 {
			t.Errorf("copies answered by the upstream = %d, upstream requests = %d, want 1 and 1", forwarded, slow.count())
		}
	})

	// Last, because it stops the shared Redis.
	t.Run("redis down fails closed", func(t *testing.T) {
		redisServer.Kill()
		body := newWebhookBody(t, "redis-down")
		start := time.Now()
		p := onA.expectDenied(t, "delivery while Redis is down", "/hooks/stripe", onA.signNow(t, body), body, 503, "replay_store_unavailable")
		t.Logf("503 while Redis is down after %v", time.Since(start).Round(time.Millisecond))
		if p.RequestID == "" {
			t.Error("the 503 has no request id")
		}
		resp := postWebhook(t, b, "/hooks/stripe", onB.signNow(t, body), body)
		if got := resp.Header.Get("Retry-After"); resp.Status != 503 || got == "" {
			t.Errorf("delivery to B while Redis is down = %s with Retry-After %q, want 503 with Retry-After", resp.describe(), got)
		}

		redisServer.Restart(t)
		restarted := time.Now()
		deadline := restarted.Add(5 * time.Second)
		for {
			body := newWebhookBody(t, "redis-back")
			resp := postWebhook(t, a, "/hooks/stripe", onA.signNow(t, body), body)
			if resp.Status == http.StatusOK {
				t.Logf("delivery forwarded %v after Redis restarted", time.Since(restarted).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("delivery after Redis restarted = %s, want 200 within 5s", resp.describe())
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// checkDuplicateLogged finds the duplicate's allow decision in the log of
// a gateway that runs at DEBUG level.
func checkDuplicateLogged(t *testing.T, gw *gateway, resp response) {
	t.Helper()
	var body struct {
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Fatalf("decoding the duplicate answer: %v", err)
	}
	for _, e := range gw.logEntries(t) {
		if e.str("request_id") != body.RequestID {
			continue
		}
		if e.str("msg") != "request allowed" || e.str("module") != "webhook" || e.str("reason") != "webhook_duplicate" || e.str("provider") != "paystack" {
			t.Errorf("log entry of %s = %v, want an allowed webhook_duplicate of provider paystack", body.RequestID, e)
		}
		return
	}
	t.Errorf("no gateway log entry has request_id %s", body.RequestID)
}
