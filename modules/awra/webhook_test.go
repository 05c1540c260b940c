package awra

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/awra/awragate/policy"
)

func TestWebhookForwardsExactBody(t *testing.T) {
	h, rec := newTestWebhook(t, &Webhook{Provider: "paystack", Secrets: []string{testPaystackSecret}})
	body := []byte("{\"amount\": 1, \"name\":\"Zoë\"}\xff\n")
	r := signedRequest(t, h, body)
	// Sent chunked, with identity headers a client must not set.
	r.ContentLength = -1
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body[:5]), bytes.NewReader(body[5:])))
	r.Header.Set("X-Awra-Key-Id", "forged")
	r.Header.Set("X-Original-Url", "/admin")

	up := &fakeUpstream{}
	w := serve(t, h, r, up)
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body: %s", w.Code, w.Body)
	}
	if up.calls() != 1 {
		t.Fatalf("upstream calls = %d, want 1", up.calls())
	}
	got := up.requests[0]
	if !bytes.Equal(up.bodies[0], body) {
		t.Errorf("forwarded body = %q, want %q", up.bodies[0], body)
	}
	if got.ContentLength != int64(len(body)) || got.Header.Get("Content-Length") != "30" {
		t.Errorf("forwarded ContentLength, header = %d, %q, want %d", got.ContentLength, got.Header.Get("Content-Length"), len(body))
	}
	if got.Header.Get("X-Awra-Key-Id") != "" || got.Header.Get("X-Original-Url") != "" {
		t.Error("a client X-Awra-Key-Id or X-Original-Url header was forwarded")
	}
	if got.Header.Get("X-Awra-Webhook-Provider") != "paystack" || got.Header.Get("X-Awra-Request-Id") == "" {
		t.Errorf("identity headers = %q, %q, want paystack and a request id",
			got.Header.Get("X-Awra-Webhook-Provider"), got.Header.Get("X-Awra-Request-Id"))
	}
	if got.Header.Get("X-Paystack-Signature") == "" {
		t.Error("the signature header was not forwarded")
	}
	if d := rec.last(t); !d.allow || d.status != http.StatusOK || d.reason != "" {
		t.Errorf("recorded decision = allow %v, status %d, reason %q, want an allow with status 200", d.allow, d.status, d.reason)
	}
}

func TestWebhookDuplicateNotForwarded(t *testing.T) {
	h, rec := newTestWebhook(t, &Webhook{Provider: "paystack", Secrets: []string{testPaystackSecret}})
	body := []byte(`{"event":"charge.success","id":42}`)
	first := signedRequest(t, h, body)
	up := &fakeUpstream{}

	if w := serve(t, h, first, up); w.Code != http.StatusOK {
		t.Fatalf("first delivery = %d, want 200", w.Code)
	}
	w := serve(t, h, cloneRequest(t, first, body), up)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"status":"duplicate"`) {
		t.Errorf("second delivery = %d %s, want 200 with status duplicate", w.Code, w.Body)
	}
	if up.calls() != 1 {
		t.Errorf("upstream calls = %d, want 1", up.calls())
	}
	if d := rec.last(t); !d.allow || d.reason != policy.ReasonWebhookDuplicate {
		t.Errorf("recorded decision = allow %v, reason %q, want allow webhook_duplicate", d.allow, d.reason)
	}
}

func TestWebhookReplayAndRetry(t *testing.T) {
	h, rec := newTestWebhook(t, &Webhook{Provider: "stripe", Secrets: []string{testStripeSecret}, MaxDeliveries: 3})
	body := []byte(`{"id":"evt_1"}`)
	r := signedRequest(t, h, body)

	// The upstream fails twice, once with a status and once with an
	// error, and each time the same signed bytes may come again.
	up := &fakeUpstream{statuses: []int{http.StatusInternalServerError}}
	if w := serve(t, h, r, up); w.Code != http.StatusInternalServerError {
		t.Fatalf("delivery 1 = %d, want the upstream's 500", w.Code)
	}
	failing := &fakeUpstream{err: caddyhttp.Error(http.StatusBadGateway, errors.New("dial failed"))}
	if w := serve(t, h, cloneRequest(t, r, body), failing); w.Code != http.StatusBadGateway {
		t.Fatalf("delivery 2 = %d, want 502", w.Code)
	}
	if d := rec.last(t); !d.allow || d.status != http.StatusBadGateway {
		t.Errorf("recorded decision = allow %v, status %d, want an allow with status 502", d.allow, d.status)
	}
	if w := serve(t, h, cloneRequest(t, r, body), up); w.Code != http.StatusOK {
		t.Fatalf("delivery 3 = %d, want 200", w.Code)
	}

	w := serve(t, h, cloneRequest(t, r, body), up)
	checkDenial(t, w, rec, http.StatusConflict, policy.ReasonWebhookReplayed)
	if up.calls()+failing.calls() != 3 {
		t.Errorf("upstream calls = %d, want 3", up.calls()+failing.calls())
	}
}

func TestWebhookRetryLimit(t *testing.T) {
	h, rec := newTestWebhook(t, &Webhook{Provider: "paystack", Secrets: []string{testPaystackSecret}, MaxDeliveries: 2})
	body := []byte(`{"id":7}`)
	r := signedRequest(t, h, body)
	up := &fakeUpstream{statuses: []int{503, 503, 503}}

	for i := range 2 {
		if w := serve(t, h, cloneRequest(t, r, body), up); w.Code != http.StatusServiceUnavailable {
			t.Fatalf("attempt %d = %d, want the upstream's 503", i+1, w.Code)
		}
	}
	w := serve(t, h, cloneRequest(t, r, body), up)
	checkDenial(t, w, rec, http.StatusTooManyRequests, policy.ReasonRetryLimitExceeded)
	if up.calls() != 2 {
		t.Errorf("upstream calls = %d, want 2", up.calls())
	}
}

func TestWebhookInFlightCopy(t *testing.T) {
	h, rec := newTestWebhook(t, &Webhook{Provider: "paystack", Secrets: []string{testPaystackSecret}})
	body := []byte(`{"id":"in-flight"}`)
	r := signedRequest(t, h, body)
	up := &fakeUpstream{gate: make(chan struct{}), entered: make(chan struct{}, 1)}

	done := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		_ = h.ServeHTTP(w, r, up)
		done <- w.Code
	}()
	<-up.entered

	w := serve(t, h, cloneRequest(t, r, body), up)
	checkDenial(t, w, rec, http.StatusConflict, policy.ReasonWebhookReplayed)
	if got := w.Header().Get("Retry-After"); got == "" {
		t.Error("the in-flight denial has no Retry-After")
	}

	close(up.gate)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("first delivery = %d, want 200", code)
	}
	w = serve(t, h, cloneRequest(t, r, body), up)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "duplicate") {
		t.Errorf("copy after delivery = %d %s, want 200 duplicate", w.Code, w.Body)
	}
	if up.calls() != 1 {
		t.Errorf("upstream calls = %d, want 1", up.calls())
	}
}

func TestWebhookStoreDownFailsClosed(t *testing.T) {
	h, rec := newTestWebhook(t, &Webhook{Provider: "paystack", Secrets: []string{testPaystackSecret}})
	h.store = failingStore{}
	up := &fakeUpstream{}

	w := serve(t, h, signedRequest(t, h, []byte(`{}`)), up)
	checkDenial(t, w, rec, http.StatusServiceUnavailable, reasonReplayStoreUnavailable)
	if got := w.Header().Get("Retry-After"); got != "10" {
		t.Errorf("Retry-After = %q, want 10", got)
	}
	if up.calls() != 0 {
		t.Errorf("upstream calls = %d, want 0", up.calls())
	}
}

func TestWebhookDenials(t *testing.T) {
	h, rec := newTestWebhook(t, &Webhook{
		Provider:    "paystack",
		Secrets:     []string{testPaystackSecret},
		MaxBody:     64,
		SourceCIDRs: []string{"203.0.113.0/24"},
	})
	fromNetwork := func(r *http.Request, ip string) *http.Request {
		vars := map[string]any{caddyhttp.ClientIPVarKey: ip}
		return r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
	}
	valid := func() *http.Request { return fromNetwork(signedRequest(t, h, []byte(`{"ok":true}`)), "203.0.113.9") }

	tests := []struct {
		name       string
		request    func() *http.Request
		wantStatus int
		wantReason policy.Reason
	}{
		{"source outside source_cidrs", func() *http.Request {
			return fromNetwork(signedRequest(t, h, []byte(`{}`)), "198.51.100.7")
		}, 403, policy.ReasonSourceIPNotAllowed},
		{"IPv4-mapped source inside", func() *http.Request {
			return fromNetwork(signedRequest(t, h, []byte(`{"mapped":1}`)), "::ffff:203.0.113.9")
		}, 200, ""},
		{"ambiguous path", func() *http.Request {
			r := valid()
			r.URL.RawPath, r.URL.Path = "/hooks/%2e%2e/admin", "/hooks/../admin"
			return r
		}, 400, policy.ReasonPathAmbiguous},
		{"declared body over max_body", func() *http.Request {
			r := valid()
			r.ContentLength = 65
			return r
		}, 413, policy.ReasonBodyTooLarge},
		{"chunked body over max_body", func() *http.Request {
			r := valid()
			r.ContentLength = -1
			r.Body = io.NopCloser(strings.NewReader(strings.Repeat("a", 65)))
			return r
		}, 413, policy.ReasonBodyTooLarge},
		{"signature missing", func() *http.Request {
			r := valid()
			r.Header.Del("X-Paystack-Signature")
			return r
		}, 401, policy.ReasonSignatureMissing},
		{"signature for another body", func() *http.Request {
			r := valid()
			r.Body = io.NopCloser(strings.NewReader(`{"ok":false}`))
			return r
		}, 401, policy.ReasonSignatureInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := &fakeUpstream{}
			w := serve(t, h, tt.request(), up)
			if tt.wantStatus == http.StatusOK {
				if w.Code != http.StatusOK || up.calls() != 1 {
					t.Errorf("status, upstream calls = %d, %d, want 200, 1", w.Code, up.calls())
				}
				return
			}
			checkDenial(t, w, rec, tt.wantStatus, tt.wantReason)
			if up.calls() != 0 {
				t.Errorf("upstream calls = %d, want 0", up.calls())
			}
		})
	}
}

// TestWebhookFlushThroughWrapper checks that the upstream can still flush
// and reach the connection through the status-recording wrappers.
func TestWebhookFlushThroughWrapper(t *testing.T) {
	h, _ := newTestWebhook(t, &Webhook{Provider: "paystack", Secrets: []string{testPaystackSecret}})
	var flushErr error
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		_, _ = w.Write([]byte("partial"))
		flushErr = http.NewResponseController(w).Flush()
		return nil
	})
	w := serve(t, h, signedRequest(t, h, []byte(`{"flush":1}`)), next)
	if flushErr != nil {
		t.Errorf("Flush through the wrapper = %v, want nil", flushErr)
	}
	if !w.Flushed {
		t.Error("the recorder was not flushed")
	}
}

// TestWebhookEmptyResponseIsDelivered checks that a next handler that
// writes nothing, for which net/http sends 200, marks the event delivered.
func TestWebhookEmptyResponseIsDelivered(t *testing.T) {
	h, _ := newTestWebhook(t, &Webhook{Provider: "paystack", Secrets: []string{testPaystackSecret}})
	body := []byte(`{"empty":1}`)
	r := signedRequest(t, h, body)
	calls := 0
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { calls++; return nil })

	serve(t, h, r, next)
	w := serve(t, h, cloneRequest(t, r, body), next)
	if calls != 1 || !strings.Contains(w.Body.String(), "duplicate") {
		t.Errorf("calls, second body = %d, %s, want 1 and a duplicate answer", calls, w.Body)
	}
}
