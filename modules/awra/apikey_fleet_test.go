package awra

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/alert"
	"github.com/awra/awragate/policy/fleet"
)

// apiKeyFixture is an APIKey handler on an app with a keys file, without
// Caddy, for handler tests and benchmarks.
type apiKeyFixture struct {
	h        *APIKey
	app      *App
	tokens   map[string]string // key id -> token
	alerts   *capturedAlerts
	recorded *apiKeyDecisions
}

type apiKeyDecisions struct {
	mu   sync.Mutex
	list []decision
}

func (r *apiKeyDecisions) record(d *decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, *d)
}

type capturedAlerts struct {
	mu      sync.Mutex
	reports []alert.Bypass
}

// newAPIKeyFixture writes keys built by edit from a base record to a keys
// file and builds a handler that requires inventory:read.
func newAPIKeyFixture(tb testing.TB, edits map[string]func(*policy.KeyRecord)) *apiKeyFixture {
	tb.Helper()
	f := &apiKeyFixture{tokens: map[string]string{}, recorded: &apiKeyDecisions{}, alerts: &capturedAlerts{}}
	now := time.Now().UTC().Truncate(time.Second)
	expires := now.Add(time.Hour)
	var file policy.KeysFile
	file.Version = policy.KeysFileVersion
	for id, edit := range edits {
		token, err := policy.NewToken(id)
		if err != nil {
			tb.Fatal(err)
		}
		f.tokens[id] = token
		rec := policy.KeyRecord{
			ID: id, Owner: "team-" + id, Scopes: []string{"inventory:read"},
			AllowedCIDRs: []string{"10.0.0.0/8"}, CreatedAt: now, ExpiresAt: &expires,
			Status:  policy.KeyActive,
			Secrets: []policy.SecretHash{{Hash: policy.FormatHash(policy.HashToken(token)), CreatedAt: now}},
		}
		if edit != nil {
			edit(&rec)
		}
		file.Keys = append(file.Keys, rec)
	}
	data, err := json.Marshal(file)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "keys.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	ks, err := openKeyStore(path, caddy.Duration(time.Hour), zap.NewNop())
	if err != nil {
		tb.Fatalf("openKeyStore: %v", err)
	}
	tb.Cleanup(func() { ks.release() })

	f.app = &App{
		keys:     ks,
		limits:   &keyLimits{},
		notifier: new(atomic.Pointer[sharedNotifier]),
		logger:   zap.NewNop(),
	}
	q := &quarantineSet{}
	empty := map[string]fleet.QuarantineRecord{}
	q.keys.Store(&empty)
	f.app.quarantine = q

	n := alert.New(alert.Config{Instance: "test", Timing: alert.Timing{Wait: time.Hour}})
	f.app.notifier.Store(&sharedNotifier{Notifier: n})
	// The notifier is not started: reports stay in its queue, which the
	// fixture reads through Stats.

	f.h = &APIKey{
		required:    []policy.Scope{mustScope(tb, "inventory:read")},
		keyHeaders:  []string{defaultKeyHeader},
		credHeaders: []string{"Authorization", defaultKeyHeader},
		idHeader:    awraRequestIDHeader,
		app:         f.app,
		recorder:    f.recorded,
		logger:      zap.NewNop(),
	}
	return f
}

func mustScope(tb testing.TB, s string) policy.Scope {
	tb.Helper()
	sc, err := policy.ParseRequiredScope(s)
	if err != nil {
		tb.Fatal(err)
	}
	return sc
}

// request builds a request of key id from client.
func (f *apiKeyFixture) request(id, client string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://api.example.com/api/inventory/items", nil)
	r.RemoteAddr = client + ":40000"
	r.Header.Set("Authorization", "Bearer "+f.tokens[id])
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{})
	return r.WithContext(ctx)
}

var fleetNext = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusOK)
	return nil
})

func (f *apiKeyFixture) serve(tb testing.TB, r *http.Request) *httptest.ResponseRecorder {
	tb.Helper()
	w := httptest.NewRecorder()
	if err := f.h.ServeHTTP(w, r, fleetNext); err != nil {
		tb.Fatalf("ServeHTTP: %v", err)
	}
	return w
}

func problemReason(tb testing.TB, w *httptest.ResponseRecorder) string {
	tb.Helper()
	var p struct{ Reason string }
	if w.Code != http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			tb.Fatalf("decoding the problem body: %v", err)
		}
	}
	return p.Reason
}

func TestAPIKeyLocalRateLimitFields(t *testing.T) {
	f := newAPIKeyFixture(t, map[string]func(*policy.KeyRecord){
		"limited": func(r *policy.KeyRecord) { r.RateLimit = &policy.RateLimit{Rate: "1/m", Burst: 2} },
		"open":    nil,
	})

	steps := []struct {
		name       string
		key        string
		status     int
		reason     string
		policy     string
		rateLimit  string
		retryAfter string
	}{
		{"first of the burst", "limited", 200, "", `"api-key";q=2;w=120`, `"api-key";r=1;t=60`, ""},
		{"second of the burst", "limited", 200, "", `"api-key";q=2;w=120`, `"api-key";r=0;t=60`, ""},
		{"over the limit", "limited", 429, "rate_limited", `"api-key";q=2;w=120`, `"api-key";r=0;t=60`, "60"},
		{"key without a limit", "open", 200, "", "", "", ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			w := f.serve(t, f.request(s.key, "10.1.2.3"))
			if w.Code != s.status || problemReason(t, w) != s.reason {
				t.Fatalf("ServeHTTP = %d %s, want %d %s", w.Code, problemReason(t, w), s.status, s.reason)
			}
			h := w.Result().Header
			if got := h.Get("RateLimit-Policy"); got != s.policy {
				t.Errorf("RateLimit-Policy = %q, want %q", got, s.policy)
			}
			// The refill time of a token moves by the microseconds the
			// test takes, so compare the remaining count exactly and the
			// reset to the second.
			if got := h.Get("RateLimit"); got != s.rateLimit {
				t.Errorf("RateLimit = %q, want %q", got, s.rateLimit)
			}
			if got := h.Get("Retry-After"); got != s.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, s.retryAfter)
			}
		})
	}
}

func TestAPIKeyQuarantine(t *testing.T) {
	f := newAPIKeyFixture(t, map[string]func(*policy.KeyRecord){
		"quarantined": nil,
		"revoked":     func(r *policy.KeyRecord) { r.Status = policy.KeyRevoked },
		"suspended":   func(r *policy.KeyRecord) { r.Status = policy.KeySuspended },
	})
	for id := range f.tokens {
		f.app.quarantine.add(id, fleet.QuarantineRecord{})
	}
	wrong, _ := policy.NewToken("quarantined")

	tests := []struct {
		name   string
		r      *http.Request
		status int
		reason string
	}{
		{"quarantined key", f.request("quarantined", "10.1.2.3"), 403, "key_quarantined"},
		// A quarantine also stops requests the key would fail anyway.
		{"quarantined key from outside", f.request("quarantined", "203.0.113.9"), 403, "key_quarantined"},
		{"revoked stays revoked", f.request("revoked", "10.1.2.3"), 401, "key_revoked"},
		{"suspended stays suspended", f.request("suspended", "10.1.2.3"), 403, "key_suspended"},
	}
	wrongReq := f.request("quarantined", "10.1.2.3")
	wrongReq.Header.Set("Authorization", "Bearer "+wrong)
	tests = append(tests, struct {
		name   string
		r      *http.Request
		status int
		reason string
	}{"wrong secret learns nothing", wrongReq, 401, "key_invalid"})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.serve(t, tt.r)
			if w.Code != tt.status || problemReason(t, w) != tt.reason {
				t.Errorf("ServeHTTP = %d %s, want %d %s", w.Code, problemReason(t, w), tt.status, tt.reason)
			}
		})
	}

	f.app.quarantine.remove("quarantined")
	if w := f.serve(t, f.request("quarantined", "10.1.2.3")); w.Code != http.StatusOK {
		t.Errorf("after the quarantine was lifted: ServeHTTP = %d %s, want 200", w.Code, problemReason(t, w))
	}
}

func TestAPIKeyReportsBypass(t *testing.T) {
	f := newAPIKeyFixture(t, map[string]func(*policy.KeyRecord){"k": nil})
	n := f.app.notifier.Load()

	w := f.serve(t, f.request("k", "203.0.113.9"))
	if w.Code != http.StatusForbidden || problemReason(t, w) != "ip_not_allowed" {
		t.Fatalf("ServeHTTP from outside = %d %s, want 403 ip_not_allowed", w.Code, problemReason(t, w))
	}
	if got := n.Stats().Reported; got != 1 {
		t.Errorf("bypass reports after one denial from outside = %d, want 1", got)
	}

	// Other denials are not bypass attempts.
	f.serve(t, f.request("k", "10.1.2.3")) // allowed
	r := f.request("k", "10.1.2.3")
	r.Header.Set("Authorization", "Bearer awra_k_"+strings.Repeat("x", 40))
	f.serve(t, r)
	if got := n.Stats().Reported; got != 1 {
		t.Errorf("bypass reports after an allow and a wrong token = %d, want still 1", got)
	}
}

func TestReportBypassWithoutAlerts(t *testing.T) {
	var a App // never provisioned: no notifier
	a.reportBypass(alert.Bypass{KeyID: "k", ClientIP: netip.MustParseAddr("203.0.113.1")})
}

// BenchmarkRateLimitCheckLocal measures what the local limiter adds to a
// request: the key's token bucket and both response fields. Each request
// comes one refill interval after the previous, so every one is allowed.
func BenchmarkRateLimitCheckLocal(b *testing.B) {
	cases := []struct {
		name     string
		limit    policy.RateLimit
		interval time.Duration
	}{
		// Remaining and reset fall in StatusValue's table.
		{"50 per second", policy.RateLimit{Rate: "50/s", Burst: 50}, 20 * time.Millisecond},
		// Remaining is formatted for each response.
		{"100000 per second", policy.RateLimit{Rate: "100000/s", Burst: 1000}, 10 * time.Microsecond},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			f := newAPIKeyFixture(b, map[string]func(*policy.KeyRecord){
				"limited": func(r *policy.KeyRecord) { r.RateLimit = &bc.limit },
			})
			k, _ := f.app.Registry().Lookup("limited")
			h := http.Header{}
			limits := f.app.limits
			ctx := context.Background()
			now := time.Now()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if res, _ := limits.check(ctx, h, k, now.Add(time.Duration(i)*bc.interval)); !res.Allowed {
					b.Fatalf("request %d denied, want every request allowed", i)
				}
			}
		})
	}
}

// BenchmarkAPIKeyServeHTTP compares whole requests of a key without and
// with a local rate limit; the difference is the limiter's cost.
func BenchmarkAPIKeyServeHTTP(b *testing.B) {
	f := newAPIKeyFixture(b, map[string]func(*policy.KeyRecord){
		"open":    nil,
		"limited": func(r *policy.KeyRecord) { r.RateLimit = &policy.RateLimit{Rate: "1000000000/s", Burst: 1000000} },
	})
	f.h.recorder = discardAPIKeyDecisions{}
	for _, id := range []string{"open", "limited"} {
		b.Run(id, func(b *testing.B) {
			r := f.request(id, "10.1.2.3")
			auth := r.Header.Get("Authorization")
			b.ReportAllocs()
			for b.Loop() {
				r.Header = http.Header{"Authorization": {auth}}
				w := httptest.NewRecorder()
				if err := f.h.ServeHTTP(w, r, fleetNext); err != nil || w.Code != http.StatusOK {
					b.Fatalf("ServeHTTP = %d, %v", w.Code, err)
				}
			}
		})
	}
}

type discardAPIKeyDecisions struct{}

func (discardAPIKeyDecisions) record(*decision) {}

// BenchmarkQuarantineCheck measures the quarantine lookup every
// authenticated request makes, with a few keys quarantined.
func BenchmarkQuarantineCheck(b *testing.B) {
	f := newAPIKeyFixture(b, map[string]func(*policy.KeyRecord){"k": nil})
	for _, id := range []string{"a", "b", "c"} {
		f.app.quarantine.add(id, fleet.QuarantineRecord{})
	}
	k, _ := f.app.Registry().Lookup("k")
	res := policy.AuthResult{KeyID: "k", Key: k}
	b.ReportAllocs()
	for b.Loop() {
		if f.app.quarantined(res) {
			b.Fatal("key k reported quarantined")
		}
	}
}
