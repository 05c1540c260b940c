package awra

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
)

// Secrets of the handler tests, generated when the test binary starts.
var (
	testPaystackSecret = "sk_test_" + randomHex(16)
	testStripeSecret   = "whsec_" + randomHex(16)
)

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("reading random bytes: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// recordedDecisions is a decisionRecorder that keeps every decision.
type recordedDecisions struct {
	mu   sync.Mutex
	list []decision
}

func (rd *recordedDecisions) record(d *decision) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.list = append(rd.list, *d)
}

func (rd *recordedDecisions) last(t *testing.T) decision {
	t.Helper()
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if len(rd.list) == 0 {
		t.Fatal("no decision was recorded")
	}
	return rd.list[len(rd.list)-1]
}

// fakeUpstream is the next handler. It records each request and responds
// with the next status of statuses (200 once they run out), or returns
// err. When gate is set, it waits for gate to close before responding.
type fakeUpstream struct {
	mu       sync.Mutex
	bodies   [][]byte
	requests []*http.Request
	statuses []int
	err      error
	gate     chan struct{}
	entered  chan struct{}
}

func (u *fakeUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.bodies = append(u.bodies, body)
	u.requests = append(u.requests, r)
	status := http.StatusOK
	if len(u.statuses) > 0 {
		status, u.statuses = u.statuses[0], u.statuses[1:]
	}
	err := u.err
	u.mu.Unlock()

	if u.entered != nil {
		u.entered <- struct{}{}
	}
	if u.gate != nil {
		<-u.gate
	}
	if err != nil {
		return err
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte("upstream"))
	return nil
}

func (u *fakeUpstream) calls() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.bodies)
}

// newTestWebhook compiles h with a fresh in-process store and a recorder.
func newTestWebhook(t *testing.T, h *Webhook) (*Webhook, *recordedDecisions) {
	t.Helper()
	h.logger = zap.NewNop()
	h.idHeader = awraRequestIDHeader
	if err := h.compile(); err != nil {
		t.Fatalf("compile: %v", err)
	}
	rec := &recordedDecisions{}
	h.recorder = rec
	h.store = newMemoryDeliveryStore(1000)
	return h, rec
}

// signedRequest returns a POST of body signed by h's first secret now.
func signedRequest(t *testing.T, h *Webhook, body []byte) *http.Request {
	t.Helper()
	hdr, err := h.verifier.Sign(time.Now(), "", body)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	r := httptest.NewRequest(http.MethodPost, "/hooks/test", bytes.NewReader(body))
	for name, values := range hdr {
		r.Header[name] = values
	}
	return r
}

// clone returns a copy of r with a fresh body reader, for resending.
func cloneRequest(t *testing.T, r *http.Request, body []byte) *http.Request {
	t.Helper()
	c := httptest.NewRequest(r.Method, r.URL.String(), bytes.NewReader(body))
	c.Header = r.Header.Clone()
	return c
}

func serve(t *testing.T, h *Webhook, r *http.Request, next caddyhttp.Handler) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, next); err != nil {
		var he caddyhttp.HandlerError
		if errors.As(err, &he) {
			w.Code = he.StatusCode
		} else {
			w.Code = http.StatusInternalServerError
		}
	}
	return w
}

// checkDenial checks a problem+json denial and its recorded decision.
func checkDenial(t *testing.T, w *httptest.ResponseRecorder, rec *recordedDecisions, status int, reason policy.Reason) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status = %d, want %d; body: %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("decoding the problem: %v", err)
	}
	if p.Reason != string(reason) || p.RequestID == "" {
		t.Errorf("problem reason, request_id = %q, %q, want %q and an id", p.Reason, p.RequestID, reason)
	}
	d := rec.last(t)
	if d.allow || d.reason != reason || d.status != status || d.module != "webhook" || d.provider == "" {
		t.Errorf("recorded decision = allow %v, reason %q, status %d, module %q, provider %q; want a %s deny by webhook with a provider",
			d.allow, d.reason, d.status, d.module, d.provider, reason)
	}
}

// failingStore fails every call, as Redis does when it is down.
type failingStore struct{}

var errTestStoreDown = errors.New("dial tcp 127.0.0.1:1: connection refused")

func (failingStore) begin(context.Context, time.Time, *deliveryKeys) (admission, error) {
	return 0, errTestStoreDown
}
func (failingStore) delivered(context.Context, time.Time, *deliveryKeys) error {
	return errTestStoreDown
}
func (failingStore) release(context.Context, time.Time, *deliveryKeys) error { return errTestStoreDown }
