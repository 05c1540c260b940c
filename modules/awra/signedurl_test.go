package awra

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/signedurl"
)

// signedURLTestSecret is the secret of key "k-test" in these tests. It is
// test data, not a secret.
const signedURLTestSecret = "awra-handler-test-secret-0123456789abcdef"

// decisionLog records decisions in memory. It is safe for concurrent use.
type decisionLog struct {
	mu        sync.Mutex
	decisions []decision
}

func (l *decisionLog) record(d *decision) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.decisions = append(l.decisions, *d)
}

// last returns the most recent decision, failing the test when there is
// none.
func (l *decisionLog) last(t *testing.T) decision {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.decisions) == 0 {
		t.Fatal("no decision was recorded")
	}
	return l.decisions[len(l.decisions)-1]
}

// newTestSignedURL returns a handler set up as Provision would set it up,
// with key "k-test", max_ttl 1h and clock_skew 30s, recording into a
// decisionLog.
func newTestSignedURL(t testing.TB) (*SignedURL, *decisionLog) {
	t.Helper()
	v, err := signedurl.NewVerifier(signedurl.Config{
		Keys:      map[string][]byte{"k-test": []byte(signedURLTestSecret)},
		MaxTTL:    time.Hour,
		ClockSkew: 30 * time.Second,
	})
	if err != nil {
		t.Fatalf("signedurl.NewVerifier: %v", err)
	}
	log := &decisionLog{}
	return &SignedURL{verifier: v, recorder: log, keyIDHeader: awraURLKeyIDHeader, idHeader: awraRequestIDHeader, logger: zap.NewNop()}, log
}

// signTarget signs scheme://host+target for method with key "k-test" and
// returns target with the control parameters appended.
func signTarget(t testing.TB, method, scheme, host, target string, expires time.Time) string {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	s, err := signedurl.NewSigner("k-test", []byte(signedURLTestSecret))
	if err != nil {
		t.Fatalf("signedurl.NewSigner: %v", err)
	}
	signed, err := s.Sign(method, scheme, host, path, query, expires)
	if err != nil {
		t.Fatalf("Sign(%s %s://%s%s): %v", method, scheme, host, target, err)
	}
	return path + "?" + signed
}

// forwarded is what the next handler received.
type forwarded struct {
	called   bool
	rawPath  string
	rawQuery string
	header   http.Header
}

// serveSignedURL runs h on r with a next handler that records what it
// received and writes 200.
func serveSignedURL(t *testing.T, h *SignedURL, r *http.Request) (*httptest.ResponseRecorder, forwarded) {
	t.Helper()
	var fw forwarded
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		fw = forwarded{called: true, rawPath: r.URL.EscapedPath(), rawQuery: r.URL.RawQuery, header: r.Header.Clone()}
		w.WriteHeader(http.StatusOK)
		return nil
	})
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, next); err != nil {
		t.Fatalf("ServeHTTP error: %v", err)
	}
	return w, fw
}

func TestSignedURLServeHTTP(t *testing.T) {
	h, log := newTestSignedURL(t)
	soon := time.Now().Add(10 * time.Minute)
	const host = "files.example.com"

	tests := []struct {
		name      string
		method    string
		target    string // request target as sent
		host      string // Host header; host when empty
		tls       bool
		header    http.Header
		wantCode  int    // 200 when allowed
		wantQuery string // forwarded query when allowed
		wantKeyID string // decision key id
	}{
		{
			name:      "allowed, control parameters removed",
			method:    http.MethodGet,
			target:    signTarget(t, "GET", "http", host, "/files/a%20b.txt?b=1+2&a=%c3%a9", soon),
			wantCode:  http.StatusOK,
			wantQuery: "b=1+2&a=%c3%a9",
			wantKeyID: "k-test",
		},
		{
			name:      "allowed, absolute-form target",
			method:    http.MethodGet,
			target:    "http://" + host + signTarget(t, "GET", "http", host, "/files/a.txt?x=1", soon),
			wantCode:  http.StatusOK,
			wantQuery: "x=1",
			wantKeyID: "k-test",
		},
		{
			name:      "allowed, https with the default port in Host",
			method:    http.MethodGet,
			target:    signTarget(t, "GET", "https", host, "/files/a.txt", soon),
			host:      host + ":443",
			tls:       true,
			wantCode:  http.StatusOK,
			wantKeyID: "k-test",
		},
		{
			name:      "allowed, forged identity headers removed",
			method:    http.MethodGet,
			target:    signTarget(t, "GET", "http", host, "/files/a.txt", soon),
			header:    http.Header{"X-Awra-Url-Key-Id": {"k-admin"}, "X-Awra-Scopes": {"*:*"}, "X-Original-Url": {"/admin"}},
			wantCode:  http.StatusOK,
			wantKeyID: "k-test",
		},
		{
			name:      "port 443 without TLS is another host",
			method:    http.MethodGet,
			target:    signTarget(t, "GET", "https", host, "/files/a.txt", soon),
			host:      host + ":443",
			wantCode:  http.StatusForbidden,
			wantKeyID: "k-test",
		},
		{
			name:      "expired",
			method:    http.MethodGet,
			target:    signTarget(t, "GET", "http", host, "/files/a.txt", time.Now().Add(-time.Hour)),
			wantCode:  http.StatusForbidden,
			wantKeyID: "k-test",
		},
		{
			name:      "unknown key id is recorded",
			method:    http.MethodGet,
			target:    strings.Replace(signTarget(t, "GET", "http", host, "/files/a.txt", soon), "=k-test", "=k-gone", 1),
			wantCode:  http.StatusForbidden,
			wantKeyID: "k-gone",
		},
		{
			name:     "ambiguous path",
			method:   http.MethodGet,
			target:   signTarget(t, "GET", "http", host, "/files/a%2Fb.txt", soon),
			wantCode: http.StatusBadRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.Host = host
			if tt.host != "" {
				r.Host = tt.host
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for name, values := range tt.header {
				r.Header[name] = values
			}

			w, fw := serveSignedURL(t, h, r)
			d := log.last(t)
			if w.Code != tt.wantCode {
				t.Fatalf("ServeHTTP status = %d, want %d; body: %s", w.Code, tt.wantCode, w.Body)
			}
			if d.module != "signed_url" || d.keyID != tt.wantKeyID {
				t.Errorf("decision module, key id = %q, %q, want %q, %q", d.module, d.keyID, "signed_url", tt.wantKeyID)
			}
			if tt.wantCode != http.StatusOK {
				if fw.called {
					t.Error("next handler called for a denied request")
				}
				if d.allow || string(d.reason) == "" {
					t.Errorf("decision allow, reason = %t, %q, want a denial with a reason", d.allow, d.reason)
				}
				return
			}

			if !fw.called {
				t.Fatal("next handler not called for an allowed request")
			}
			if !d.allow {
				t.Errorf("decision allow = false, reason %q, want true", d.reason)
			}
			if fw.rawQuery != tt.wantQuery {
				t.Errorf("forwarded query = %q, want %q", fw.rawQuery, tt.wantQuery)
			}
			if v := fw.header.Values("X-Awra-Url-Key-Id"); len(v) != 1 || v[0] != "k-test" {
				t.Errorf("forwarded X-Awra-Url-Key-Id = %q, want [\"k-test\"]", v)
			}
			if v := fw.header.Get("X-Awra-Request-Id"); v == "" {
				t.Error("forwarded X-Awra-Request-Id is empty")
			}
			for _, name := range []string{"X-Awra-Scopes", "X-Original-Url"} {
				if v, ok := fw.header[name]; ok {
					t.Errorf("forwarded %s = %q, want it removed", name, v)
				}
			}
		})
	}
}

// TestSignedURLKeyIDHeader checks what key_id_header sends upstream. By
// default the upstream receives no key id and no request id, only what the
// client sent minus the gateway's parameters and any X-Awra-* header. With
// a header name set, the signing key's id replaces the client's value.
func TestSignedURLKeyIDHeader(t *testing.T) {
	const host = "files.example.com"
	tests := []struct {
		name, keyIDHeader string
		want              http.Header // identity headers the upstream must get
	}{
		{"default", "", http.Header{}},
		{"own name", "X-Link-Key-Id", http.Header{"X-Link-Key-Id": {"k-test"}}},
		{"gateway's name", awraURLKeyIDHeader, http.Header{awraURLKeyIDHeader: {"k-test"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newTestSignedURL(t)
			h.keyIDHeader, h.idHeader = tt.keyIDHeader, ""
			r := httptest.NewRequest(http.MethodGet, signTarget(t, "GET", "http", host, "/files/a.txt", time.Now().Add(time.Minute)), nil)
			r.Host = host
			r.Header.Set("X-Link-Key-Id", "k-forged")
			r.Header.Set(awraURLKeyIDHeader, "k-forged")

			w, fw := serveSignedURL(t, h, r)
			if w.Code != http.StatusOK || !fw.called {
				t.Fatalf("status %d, forwarded %t; want 200 and forwarded", w.Code, fw.called)
			}
			for _, name := range []string{"X-Link-Key-Id", awraURLKeyIDHeader, awraRequestIDHeader} {
				want, set := tt.want[name]
				got, sent := fw.header[name]
				switch {
				case set && (len(got) != 1 || got[0] != want[0]):
					t.Errorf("forwarded %s = %q, want %q", name, got, want)
				case !set && name == "X-Link-Key-Id":
					// Not the gateway's header: the client's value passes.
					if len(got) != 1 || got[0] != "k-forged" {
						t.Errorf("forwarded %s = %q, want the client's value", name, got)
					}
				case !set && sent:
					t.Errorf("forwarded %s = %q, want none", name, got)
				}
			}
		})
	}
}

func TestSignedURLDenialBody(t *testing.T) {
	h, _ := newTestSignedURL(t)
	target := signTarget(t, "DELETE", "http", "files.example.com", "/files/a.txt", time.Now().Add(time.Minute))
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Host = "files.example.com"

	w, _ := serveSignedURL(t, h, r)
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("decoding the problem body: %v", err)
	}
	if p.Status != http.StatusForbidden || p.Reason != "url_signature_invalid" || p.RequestID == "" {
		t.Errorf("problem status, reason, request_id = %d, %q, %q, want 403, url_signature_invalid and an id", p.Status, p.Reason, p.RequestID)
	}
	sig := target[strings.LastIndex(target, "=")+1:]
	if strings.Contains(w.Body.String(), sig) {
		t.Error("the problem body contains the link's signature")
	}
}

// TestSignedURLRewrittenRequest runs the handler after a rewrite: the
// signature is checked on the request as sent, and the control parameters
// are removed from the rewritten query that goes upstream.
func TestSignedURLRewrittenRequest(t *testing.T) {
	h, _ := newTestSignedURL(t)
	sent := signTarget(t, "GET", "http", "files.example.com", "/files/a.txt?x=1", time.Now().Add(time.Minute))
	orig := httptest.NewRequest(http.MethodGet, sent, nil)
	orig.Host = "files.example.com"

	r := orig.Clone(context.WithValue(orig.Context(), caddyhttp.OriginalRequestCtxKey, *orig))
	r.URL.Path = "/internal/a.txt"
	r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "x=1&", "x=1&added=2&", 1)

	w, fw := serveSignedURL(t, h, r)
	if w.Code != http.StatusOK {
		t.Fatalf("ServeHTTP status = %d, want 200; body: %s", w.Code, w.Body)
	}
	if fw.rawPath != "/internal/a.txt" || fw.rawQuery != "x=1&added=2" {
		t.Errorf("forwarded path, query = %q, %q, want %q, %q", fw.rawPath, fw.rawQuery, "/internal/a.txt", "x=1&added=2")
	}
}

func TestSignedURLDetail(t *testing.T) {
	reasons := []string{
		"url_expired", "url_ttl_too_long", "url_signature_missing", "url_key_unknown",
		"url_signature_invalid", "url_parameter_duplicated", "url_query_semicolon",
		"url_escape_malformed", "url_expires_malformed",
	}
	seen := map[string]string{}
	for _, reason := range reasons {
		detail := signedURLDetail(policy.Reason(reason))
		if detail == "" || detail == signedURLDetail("") {
			t.Errorf("signedURLDetail(%s) = %q, want a detail of its own", reason, detail)
		}
		if other, dup := seen[detail]; dup {
			t.Errorf("signedURLDetail(%s) = signedURLDetail(%s) = %q, want distinct details", reason, other, detail)
		}
		seen[detail] = reason
	}

	// The invalid-signature detail must not point at a part of the request.
	invalid := strings.ToLower(signedURLDetail(policy.Reason("url_signature_invalid")))
	for _, word := range []string{"method", "host", "path", "query", "expir", "key"} {
		if strings.Contains(invalid, word) {
			t.Errorf("url_signature_invalid detail %q names %q", invalid, word)
		}
	}
}

func TestSignedURLStripControlParams(t *testing.T) {
	tests := []struct {
		name, query, want string
	}{
		{"none", "a=1&b=2", "a=1&b=2"},
		{"all three", "a=1&X-Awra-Key-Id=k&b=2&X-Awra-Expires=1&X-Awra-Signature=s", "a=1&b=2"},
		{"only control", "X-Awra-Key-Id=k&X-Awra-Expires=1&X-Awra-Signature=s", ""},
		{"encoded name", "X-Awra-Signatur%65=s&a=1&X-Awra-Key-I%64=k", "a=1"},
		{"name without value", "X-Awra-Signature&a=1", "a=1"},
		{"lower-case name kept", "x-awra-key-id=k&a=1", "x-awra-key-id=k&a=1"},
		{"other X-Awra name kept", "X-Awra-Role=admin", "X-Awra-Role=admin"},
		{"value bytes kept", "q=a+b%20c%2b&X-Awra-Key-Id=k&r=%7e", "q=a+b%20c%2b&r=%7e"},
		{"malformed escape kept", "a=%zz&X-Awra-Key-Id=k", "a=%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stripControlParams(tt.query); got != tt.want {
				t.Errorf("stripControlParams(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

func TestSentPathAndQuery(t *testing.T) {
	tests := []struct {
		name, uri, wantPath, wantQuery string
	}{
		{"origin form", "/files/a%2fb.txt?x=1+2&y", "/files/a%2fb.txt", "x=1+2&y"},
		{"no query", "/files/a.txt", "/files/a.txt", ""},
		{"empty query", "/files/a.txt?", "/files/a.txt", ""},
		{"question mark in query", "/a?b=?c", "/a", "b=?c"},
		{"absolute form", "http://files.example.com/files/a.txt?x=1", "/files/a.txt", "x=1"},
		{"absolute form without path", "http://files.example.com?x=1", "", "x=1"},
		{"absolute form host only", "http://files.example.com", "/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RequestURI: tt.uri, URL: &url.URL{}}
			path, query := sentPathAndQuery(r, nil)
			if path != tt.wantPath || query != tt.wantQuery {
				t.Errorf("sentPathAndQuery(%q) = %q, %q, want %q, %q", tt.uri, path, query, tt.wantPath, tt.wantQuery)
			}
		})
	}
}

func TestSignedURLUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    SignedURL
		wantErr string
	}{
		{
			name:  "every option",
			input: "awra_signed_url {\n key k2025 {env.A}\n key k2026 {env.B}\n max_ttl 2h\n clock_skew 10s\n}",
			want: SignedURL{
				Keys:      []SigningKey{{ID: "k2025", Secret: "{env.A}"}, {ID: "k2026", Secret: "{env.B}"}},
				MaxTTL:    caddy.Duration(2 * time.Hour),
				ClockSkew: caddy.Duration(10 * time.Second),
			},
		},
		{
			name:  "key_id_header",
			input: "awra_signed_url {\n key k {env.A}\n key_id_header x-link-key-id\n}",
			want:  SignedURL{Keys: []SigningKey{{ID: "k", Secret: "{env.A}"}}, KeyIDHeader: "x-link-key-id"},
		},
		{
			name:  "key_id_header off",
			input: "awra_signed_url {\n key k {env.A}\n key_id_header off\n}",
			want:  SignedURL{Keys: []SigningKey{{ID: "k", Secret: "{env.A}"}}, KeyIDHeader: "off"},
		},
		{
			name:  "days",
			input: "awra_signed_url {\n key k {env.A}\n max_ttl 7d\n}",
			want:  SignedURL{Keys: []SigningKey{{ID: "k", Secret: "{env.A}"}}, MaxTTL: caddy.Duration(7 * 24 * time.Hour)},
		},
		{name: "no key", input: "awra_signed_url {\n max_ttl 1h\n}", wantErr: "at least one 'key <id> <secret>' line"},
		{name: "key without secret", input: "awra_signed_url {\n key k\n}", wantErr: "'key' takes a key id and a secret"},
		{name: "key with three arguments", input: "awra_signed_url {\n key k {env.A} extra\n}", wantErr: "'key' takes a key id and a secret"},
		{name: "max_ttl twice", input: "awra_signed_url {\n key k {env.A}\n max_ttl 1h\n max_ttl 2h\n}", wantErr: "'max_ttl' is set twice"},
		{name: "max_ttl zero", input: "awra_signed_url {\n key k {env.A}\n max_ttl 0\n}", wantErr: "max_ttl: invalid duration '0'"},
		{name: "clock_skew negative", input: "awra_signed_url {\n key k {env.A}\n clock_skew -1s\n}", wantErr: "clock_skew: invalid duration '-1s'"},
		{name: "clock_skew without value", input: "awra_signed_url {\n key k {env.A}\n clock_skew\n}", wantErr: "'clock_skew' needs a value"},
		{name: "unknown option", input: "awra_signed_url {\n key k {env.A}\n ttl 1h\n}", wantErr: "unknown awra_signed_url option 'ttl'"},
		{name: "inline argument", input: "awra_signed_url k {\n key k {env.A}\n}", wantErr: "wrong argument count"},
		{name: "key_id_header reserved", input: "awra_signed_url {\n key k {env.A}\n key_id_header authorization\n}", wantErr: "key_id_header: 'Authorization' is reserved"},
		{name: "key_id_header of API keys", input: "awra_signed_url {\n key k {env.A}\n key_id_header X-Awra-Key-Id\n}", wantErr: "key_id_header: 'X-Awra-Key-Id' is reserved: X-Awra-* names are the gateway's own; use X-Awra-Url-Key-Id"},
		{name: "key_id_header other X-Awra name", input: "awra_signed_url {\n key k {env.A}\n key_id_header X-Awra-Link\n}", wantErr: "X-Awra-* names are the gateway's own; use X-Awra-Url-Key-Id"},
		{name: "key_id_header invalid", input: "awra_signed_url {\n key k {env.A}\n key_id_header \"X Link\"\n}", wantErr: "key_id_header: invalid header name 'X Link'"},
		{name: "key_id_header without value", input: "awra_signed_url {\n key k {env.A}\n key_id_header\n}", wantErr: "'key_id_header' needs a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got SignedURL
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("UnmarshalCaddyfile(%q) error = %v, want one containing %q", tt.input, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalCaddyfile(%q) error = %v", tt.input, err)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tt.want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("UnmarshalCaddyfile(%q) = %s, want %s", tt.input, gotJSON, wantJSON)
			}
		})
	}
}

// TestSignedURLProvisionRejects covers the checks Provision makes before
// it loads the awra app, which needs a running configuration.
func TestSignedURLProvisionRejects(t *testing.T) {
	t.Setenv("AWRA_TEST_URL_SECRET", signedURLTestSecret)
	t.Setenv("AWRA_TEST_URL_SHORT", signedURLTestSecret[:31])
	t.Setenv("AWRA_TEST_URL_EMPTY", "")

	tests := []struct {
		name    string
		h       SignedURL
		wantErr string
	}{
		{"key twice", SignedURL{Keys: []SigningKey{{"k", "{env.AWRA_TEST_URL_SECRET}"}, {"k", "{env.AWRA_TEST_URL_SECRET}"}}}, "key 'k' is configured twice"},
		{"variable empty", SignedURL{Keys: []SigningKey{{"k", "{env.AWRA_TEST_URL_EMPTY}"}}}, "key 'k': the secret '{env.AWRA_TEST_URL_EMPTY}' is empty"},
		{"variable not set", SignedURL{Keys: []SigningKey{{"k", "{env.AWRA_TEST_URL_NEVER_SET}"}}}, "key 'k': the secret '{env.AWRA_TEST_URL_NEVER_SET}' is empty"},
		{"secret too short", SignedURL{Keys: []SigningKey{{"k", "{env.AWRA_TEST_URL_SHORT}"}}}, "secret of signing key 'k' is 31 bytes"},
		{"invalid key id", SignedURL{Keys: []SigningKey{{"K_1", "{env.AWRA_TEST_URL_SECRET}"}}}, "invalid signing key id 'K_1'"},
		{"max_ttl over 7 days", SignedURL{Keys: []SigningKey{{"k", "{env.AWRA_TEST_URL_SECRET}"}}, MaxTTL: caddy.Duration(8 * 24 * time.Hour)}, "invalid max_ttl '192h0m0s'"},
		{"clock_skew over 5 minutes", SignedURL{Keys: []SigningKey{{"k", "{env.AWRA_TEST_URL_SECRET}"}}, ClockSkew: caddy.Duration(6 * time.Minute)}, "invalid clock_skew '6m0s'"},
		{"key_id_header reserved", SignedURL{Keys: []SigningKey{{"k", "{env.AWRA_TEST_URL_SECRET}"}}, KeyIDHeader: "Cookie"}, "awra_signed_url: key_id_header: 'Cookie' is reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			h := tt.h
			err := h.Provision(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Provision error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), signedURLTestSecret[:31]) {
				t.Errorf("Provision error %q contains the secret", err)
			}
		})
	}
}

// nopHandler writes 200 without a body.
var nopHandler = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusOK)
	return nil
})

// discardDecisions drops every decision, so the benchmarks measure the
// handler alone.
type discardDecisions struct{}

func (discardDecisions) record(*decision) {}

func BenchmarkSignedURLServeHTTP(b *testing.B) {
	h, _ := newTestSignedURL(b)
	h.recorder = discardDecisions{}
	expires := time.Now().Add(30 * time.Minute)
	allowed := signTarget(b, "GET", "http", "files.example.com", "/files/exports/report.pdf?page=2&tag=q1", expires)
	denied := strings.Replace(allowed, "page=2", "page=3", 1)

	for _, bc := range []struct{ name, target string }{{"allow", allowed}, {"deny", denied}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bc.target, nil)
			req.Host = "files.example.com"
			rawQuery := req.URL.RawQuery
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				// The handler edits the query and headers in place, so
				// each iteration starts from the request as sent.
				req.URL.RawQuery = rawQuery
				clear(req.Header)
				w.Body.Reset()
				if err := h.ServeHTTP(w, req, nopHandler); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzSignedURLStripControlParams(f *testing.F) {
	for _, seed := range []string{
		"", "a=1&X-Awra-Key-Id=k", "X-Awra-Signatur%65=s&a", "%&X-Awra-Expires", "&&", "x-awra-key-id=k",
		"X-Awra-Key-Id%=1&X-Awra-Key-I%6", "q=a+b%20&X-Awra-Expires=1&r",
	} {
		f.Add(seed)
	}
	control := map[string]bool{signedurl.ParamKeyID: true, signedurl.ParamExpires: true, signedurl.ParamSignature: true}
	f.Fuzz(func(t *testing.T, query string) {
		got := stripControlParams(query)

		// No kept piece decodes to a control name.
		for piece := range strings.SplitSeq(got, "&") {
			name, _, _ := strings.Cut(piece, "=")
			if decoded, err := url.PathUnescape(name); err == nil && control[decoded] {
				t.Fatalf("stripControlParams(%q) = %q keeps control parameter %q", query, got, piece)
			}
		}

		// Every other non-empty piece is kept, in order.
		rest := got
		for piece := range strings.SplitSeq(query, "&") {
			name, _, _ := strings.Cut(piece, "=")
			if decoded, err := url.PathUnescape(name); piece == "" || err == nil && control[decoded] {
				continue
			}
			i := strings.Index(rest, piece)
			if i < 0 {
				t.Fatalf("stripControlParams(%q) = %q lost or reordered piece %q", query, got, piece)
			}
			rest = rest[i+len(piece):]
		}
	})
}

func FuzzSentPathAndQuery(f *testing.F) {
	for _, seed := range []string{"/a?b", "/", "http://h/p?q", "http://h", "*", "h/p", "/a?b?c", "https://h?x=1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		r := &http.Request{RequestURI: uri, URL: &url.URL{}}
		path, query := sentPathAndQuery(r, nil)
		if strings.Contains(path, "?") {
			t.Fatalf("sentPathAndQuery(%q) path = %q contains '?'", uri, path)
		}
		if strings.HasPrefix(uri, "/") {
			rebuilt := path
			if strings.Contains(uri, "?") {
				rebuilt += "?" + query
			}
			if rebuilt != uri {
				t.Fatalf("sentPathAndQuery(%q) = %q, %q, which do not rebuild the URI", uri, path, query)
			}
		}
	})
}
