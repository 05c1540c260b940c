package alert

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awra/awragate/policy/webhook"
)

// newSecret returns a fresh Standard Webhooks secret.
func newSecret(t testing.TB) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// receiver is a webhook endpoint that verifies every delivery.
type receiver struct {
	srv      *httptest.Server
	verifier *webhook.Verifier
	failing  atomic.Bool

	mu       sync.Mutex
	alerts   []Alert
	attempts int
	invalid  int
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	v, err := webhook.New(webhook.Config{Provider: webhook.ProviderStandard, Secrets: []string{secret}})
	if err != nil {
		t.Fatalf("webhook.New: %v", err)
	}
	r := &receiver{verifier: v}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if r.failing.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if res := r.verifier.Verify(time.Now(), req.Header, body); !res.OK() {
		r.invalid++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var a Alert
	if err := json.Unmarshal(body, &a); err != nil {
		r.invalid++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if req.Header.Get("Webhook-Id") != a.ID {
		r.invalid++
	}
	r.alerts = append(r.alerts, a)
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) snapshot() (alerts []Alert, attempts, invalid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Alert(nil), r.alerts...), r.attempts, r.invalid
}

type fakeDeadLetter struct {
	mu      sync.Mutex
	entries []DeadLetterEntry
}

func (f *fakeDeadLetter) Add(_ context.Context, e DeadLetterEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, e)
	return nil
}

func (f *fakeDeadLetter) list() []DeadLetterEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]DeadLetterEntry(nil), f.entries...)
}

type fakeQuarantine struct {
	after int
	mu    sync.Mutex
	count map[string]int
}

func (f *fakeQuarantine) CountBypass(_ context.Context, keyID string, _ time.Time) (QuarantineResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count[keyID]++
	n := f.count[keyID]
	return QuarantineResult{Count: n, Quarantined: n == f.after}, nil
}

func bypassFrom(ip string) Bypass {
	return Bypass{
		Module:   "api_key",
		Reason:   "ip_not_allowed",
		KeyID:    "inventory-sync",
		Owner:    "team-a",
		ClientIP: netip.MustParseAddr(ip),
		Allowed:  []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
		At:       time.Now(),
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNotifierGroupsAndSigns(t *testing.T) {
	secret := newSecret(t)
	rcv := newReceiver(t, secret)
	sender, err := NewWebhookSender(rcv.srv.URL+"/alerts?token=abc", secret, time.Second)
	if err != nil {
		t.Fatalf("NewWebhookSender: %v", err)
	}
	var audited atomic.Int32
	n := New(Config{
		Instance: "gw-test",
		Timing:   Timing{Wait: 100 * time.Millisecond, Cooldown: time.Minute},
		Webhook:  sender,
		OnAlert:  func(*Alert) { audited.Add(1) },
	})
	n.Start()
	t.Cleanup(func() { n.Close(context.Background()) })

	for _, ip := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		if !n.Report(bypassFrom(ip)) {
			t.Fatalf("Report(%s) = false, want true", ip)
		}
	}
	// Another /24 is its own group.
	n.Report(bypassFrom("198.51.100.7"))

	waitFor(t, "two alerts", 3*time.Second, func() bool {
		alerts, _, _ := rcv.snapshot()
		return len(alerts) == 2
	})
	alerts, _, invalid := rcv.snapshot()
	if invalid != 0 {
		t.Errorf("receiver rejected %d deliveries, want 0", invalid)
	}
	byNetwork := map[string]Alert{}
	for _, a := range alerts {
		byNetwork[a.SourceNetwork] = a
	}
	a := byNetwork["203.0.113.0/24"]
	if a.Count != 3 || a.KeyID != "inventory-sync" || a.Owner != "team-a" || a.Kind != KindBypass || a.Instance != "gw-test" {
		t.Errorf("alert for 203.0.113.0/24 = %+v, want count 3 of key inventory-sync owned by team-a from gw-test", a)
	}
	if got := strings.Join(a.AllowedNetworks, ","); got != "10.1.0.0/16" {
		t.Errorf("allowed_networks = %q, want 10.1.0.0/16", got)
	}
	if a.FirstSeen.IsZero() || a.LastSeen.Before(a.FirstSeen) {
		t.Errorf("first_seen %v, last_seen %v: want first <= last", a.FirstSeen, a.LastSeen)
	}
	if c := byNetwork["198.51.100.0/24"].Count; c != 1 {
		t.Errorf("alert for 198.51.100.0/24 count = %d, want 1", c)
	}
	if got := audited.Load(); got != 2 {
		t.Errorf("OnAlert calls = %d, want 2", got)
	}
	// The receiver records an alert before its response reaches the
	// notifier, which counts the delivery only after that.
	waitFor(t, "two deliveries counted", 3*time.Second, func() bool { return n.Stats().Delivered == 2 })
	if s := n.Stats(); s.Delivered != 2 || s.Reported != 4 {
		t.Errorf("Stats() = %+v, want 2 delivered of 4 reported", s)
	}
}

func TestNotifierRetriesThenDeadLetters(t *testing.T) {
	secret := newSecret(t)
	rcv := newReceiver(t, secret)
	rcv.failing.Store(true)
	sender, err := NewWebhookSender(rcv.srv.URL+"/alerts?token=do-not-log", secret, time.Second)
	if err != nil {
		t.Fatalf("NewWebhookSender: %v", err)
	}
	dead := &fakeDeadLetter{}
	n := New(Config{
		Instance:    "gw-test",
		Timing:      Timing{Wait: 10 * time.Millisecond},
		Webhook:     sender,
		DeadLetter:  dead,
		MaxAttempts: 3,
		MinBackoff:  10 * time.Millisecond,
		MaxBackoff:  20 * time.Millisecond,
	})
	n.Start()
	t.Cleanup(func() { n.Close(context.Background()) })

	n.Report(bypassFrom("203.0.113.1"))
	waitFor(t, "a dead-lettered alert", 3*time.Second, func() bool { return len(dead.list()) == 1 })

	e := dead.list()[0]
	if e.Attempts != 3 {
		t.Errorf("dead letter attempts = %d, want 3", e.Attempts)
	}
	if !strings.Contains(e.LastError, "503") || strings.Contains(e.LastError, "do-not-log") {
		t.Errorf("dead letter error = %q, want the 503 status without the URL query", e.LastError)
	}
	if _, attempts, _ := rcv.snapshot(); attempts != 3 {
		t.Errorf("receiver saw %d attempts, want 3", attempts)
	}
	// The notifier counts a dead letter after the store has taken it.
	waitFor(t, "the dead letter counted", 3*time.Second, func() bool { return n.Stats().DeadLettered == 1 })
	if s := n.Stats(); s.DeadLettered != 1 || s.FailedAttempts != 3 || s.Delivered != 0 {
		t.Errorf("Stats() = %+v, want 1 dead-lettered after 3 failed attempts", s)
	}
}

func TestNotifierQuarantine(t *testing.T) {
	q := &fakeQuarantine{after: 2, count: map[string]int{}}
	var mu sync.Mutex
	var quarantined []string
	var alerts []*Alert
	n := New(Config{
		Instance:         "gw-test",
		Timing:           Timing{Wait: time.Hour},
		Quarantine:       q,
		QuarantineWindow: 10 * time.Minute,
		OnQuarantine: func(keyID string, res QuarantineResult) {
			mu.Lock()
			defer mu.Unlock()
			quarantined = append(quarantined, keyID)
		},
		OnAlert: func(a *Alert) {
			mu.Lock()
			defer mu.Unlock()
			alerts = append(alerts, a)
		},
	})
	n.Start()
	t.Cleanup(func() { n.Close(context.Background()) })

	webhookBypass := bypassFrom("203.0.113.1")
	webhookBypass.Module = "webhook"
	webhookBypass.KeyID = "webhook:paystack"
	n.Report(webhookBypass) // webhook denials never count towards quarantine
	for range 3 {
		n.Report(bypassFrom("203.0.113.1"))
	}
	waitFor(t, "the quarantine alert", 2*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(alerts) == 1
	})

	mu.Lock()
	defer mu.Unlock()
	if len(quarantined) != 1 || quarantined[0] != "inventory-sync" {
		t.Errorf("OnQuarantine keys = %v, want [inventory-sync]", quarantined)
	}
	a := alerts[0]
	if a.Kind != KindQuarantine || !a.Quarantined || a.Count != 2 || a.Reason != "key_quarantined" || a.QuarantineWindow != "10m0s" {
		t.Errorf("quarantine alert = %+v, want type quarantine, count 2, reason key_quarantined, window 10m0s", a)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.count["webhook:paystack"] != 0 {
		t.Errorf("a webhook denial was counted towards quarantine")
	}
}

func TestNotifierReportNeverBlocks(t *testing.T) {
	n := New(Config{Instance: "gw-test", QueueSize: 2})
	// Not started: nothing drains the queue.
	results := []bool{}
	start := time.Now()
	for range 5 {
		results = append(results, n.Report(bypassFrom("203.0.113.1")))
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("5 reports into a full queue took %v, want no waiting", took)
	}
	want := []bool{true, true, false, false, false}
	for i := range want {
		if results[i] != want[i] {
			t.Errorf("Report #%d = %v, want %v", i+1, results[i], want[i])
		}
	}
	if s := n.Stats(); s.ReportsDropped != 3 {
		t.Errorf("Stats().ReportsDropped = %d, want 3", s.ReportsDropped)
	}
}

func TestNotifierCloseClaimsPendingGroups(t *testing.T) {
	dead := &fakeDeadLetter{}
	var alerts atomic.Int32
	n := New(Config{
		Instance:   "gw-test",
		Timing:     Timing{Wait: time.Hour},
		DeadLetter: dead,
		OnAlert:    func(*Alert) { alerts.Add(1) },
	})
	n.Start()
	n.Report(bypassFrom("203.0.113.1"))
	waitFor(t, "the report to be grouped", time.Second, func() bool { return n.Stats().GroupsWaiting == 1 })

	if err := n.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := alerts.Load(); got != 1 {
		t.Errorf("alerts after Close = %d, want the pending group's alert", got)
	}
	if n.Report(bypassFrom("203.0.113.1")) {
		t.Errorf("Report after Close = true, want false")
	}
}

func TestWebhookSenderErrors(t *testing.T) {
	secret := newSecret(t)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)

	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{"redirect is not followed", redirect.URL + "/?k=hidden", "302"},
		{"connection refused", "http://127.0.0.1:1/alerts?k=hidden", "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewWebhookSender(tt.url, secret, time.Second)
			if err != nil {
				t.Fatalf("NewWebhookSender: %v", err)
			}
			err = s.Send(context.Background(), "alert_1", []byte(`{}`), time.Now())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "hidden") {
				t.Errorf("Send() = %v, want an error with %q and without the query", err, tt.wantErr)
			}
		})
	}
}

func TestNewWebhookSenderRejects(t *testing.T) {
	secret := newSecret(t)
	tests := []struct {
		name, url, secret string
	}{
		{"ftp scheme", "ftp://example.com/x", secret},
		{"no host", "https:///path", secret},
		{"relative", "/alerts", secret},
		{"empty secret", "https://example.com/x", ""},
		{"secret without prefix", "https://example.com/x", strings.TrimPrefix(secret, "whsec_")},
		{"short secret", "https://example.com/x", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWebhookSender(tt.url, tt.secret, 0)
			if err == nil {
				t.Fatalf("NewWebhookSender(%q) = nil error, want an error", tt.url)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("NewWebhookSender error contains the secret")
			}
		})
	}
	if _, err := NewWebhookSender("https://example.com/x", secret, 0); err != nil {
		t.Errorf("NewWebhookSender(valid) = %v, want nil", err)
	}
}

// BenchmarkNotifierReport measures what a bypass denial adds to its
// request: handing the report to the queue, which a worker drains.
func BenchmarkNotifierReport(b *testing.B) {
	n := New(Config{Instance: "bench", QueueSize: 1 << 16, Timing: Timing{Wait: time.Hour}})
	n.Start()
	b.Cleanup(func() { n.Close(context.Background()) })
	bp := bypassFrom("203.0.113.1")
	b.ReportAllocs()
	for b.Loop() {
		n.Report(bp)
	}
}
