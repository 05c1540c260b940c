package integrationtests

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

func TestDeniedRequest(t *testing.T) {
	t.Parallel()
	reader := newTestKey(t, "reader")
	other := newTestKey(t, "other")

	past := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	expired := newTestKey(t, "expired")
	expired.Record.ExpiresAt = &past

	revoked := newTestKey(t, "revoked")
	revoked.Record.Status = policy.KeyRevoked
	suspended := newTestKey(t, "suspended")
	suspended.Record.Status = policy.KeySuspended

	gw, up := startAPIKeyGateway(t, reader, other, expired, revoked, suspended)
	c := clientFrom(t, "")

	// Malformed tokens are derived from a generated secret, so the leak
	// scans would find them in a log or an upstream request too.
	secret := strings.TrimPrefix(reader.Token, "awra_reader_")
	unknownID := newToken(t, "nobody")
	wrongSecret := newToken(t, "reader")
	revokedWrongSecret := newToken(t, "revoked")

	tests := []struct {
		name       string
		path       string
		header     http.Header
		wantStatus int
		wantReason string
	}{
		// No usable credential.
		{"no credential", "/api/inventory/items", nil, 401, "key_missing"},
		{"empty X-API-Key", "/api/inventory/items", http.Header{"X-Api-Key": {""}}, 401, "key_missing"},
		{"empty bearer", "/api/inventory/items", http.Header{"Authorization": {"Bearer "}}, 401, "key_missing"},
		{"basic scheme", "/api/inventory/items", http.Header{"Authorization": {"Basic " + secret}}, 401, "key_missing"},
		{"token scheme", "/api/inventory/items", http.Header{"Authorization": {"Token " + reader.Token}}, 401, "key_missing"},
		{"custom header and X-API-Key", "/api/custom/items", http.Header{"X-Custom-Key": {reader.Token}, "X-Api-Key": {reader.Token}}, 401, "key_invalid"},

		// Malformed tokens.
		{"no prefix", "/api/inventory/items", bearer("reader_" + secret), 401, "key_invalid"},
		{"upper-case prefix", "/api/inventory/items", bearer("AWRA_reader_" + secret), 401, "key_invalid"},
		{"upper-case key id", "/api/inventory/items", bearer("awra_Reader_" + secret), 401, "key_invalid"},
		{"empty key id", "/api/inventory/items", bearer("awra__" + secret), 401, "key_invalid"},
		{"secret too short", "/api/inventory/items", bearer("awra_reader_" + secret[:31]), 401, "key_invalid"},
		{"secret too long", "/api/inventory/items", bearer("awra_reader_" + strings.Repeat(secret, 7)), 401, "key_invalid"},
		{"secret not base62", "/api/inventory/items", bearer("awra_reader_" + secret[:35] + "-" + secret[36:]), 401, "key_invalid"},
		{"space inside token", "/api/inventory/items", bearer("awra_reader_ " + secret), 401, "key_invalid"},
		{"extra character", "/api/inventory/items", apiKey(reader.Token + "A"), 401, "key_invalid"},
		{"secret only", "/api/inventory/items", apiKey(secret), 401, "key_invalid"},

		// Well-formed tokens that do not match.
		{"unknown key id", "/api/inventory/items", bearer(unknownID), 401, "key_invalid"},
		{"wrong secret", "/api/inventory/items", bearer(wrongSecret), 401, "key_invalid"},
		{"wrong secret of revoked key", "/api/inventory/items", apiKey(revokedWrongSecret), 401, "key_invalid"},

		// More than one credential.
		{"same key in both headers", "/api/inventory/items", http.Header{"Authorization": {"Bearer " + reader.Token}, "X-Api-Key": {reader.Token}}, 401, "key_invalid"},
		{"two keys in two headers", "/api/inventory/items", http.Header{"Authorization": {"Bearer " + reader.Token}, "X-Api-Key": {other.Token}}, 401, "key_invalid"},
		{"X-API-Key twice", "/api/inventory/items", http.Header{"X-Api-Key": {reader.Token, other.Token}}, 401, "key_invalid"},
		{"Authorization twice", "/api/inventory/items", http.Header{"Authorization": {"Bearer " + reader.Token, "Bearer " + reader.Token}}, 401, "key_invalid"},
		// A second key in an Authorization form the gateway does not read
		// would otherwise go upstream, where frameworks may read it.
		{"X-API-Key and a tab after Bearer", "/api/inventory/items", http.Header{"Authorization": {"Bearer\t" + other.Token}, "X-Api-Key": {reader.Token}}, 401, "key_invalid"},
		{"X-API-Key and another scheme", "/api/inventory/items", http.Header{"Authorization": {"Token " + other.Token}, "X-Api-Key": {reader.Token}}, 401, "key_invalid"},
		{"X-API-Key and a key in Basic credentials", "/api/inventory/items", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(other.Token+":"))}, "X-Api-Key": {reader.Token}}, 401, "key_invalid"},

		// Valid tokens of keys that may not pass.
		{"expired", "/api/inventory/items", bearer(expired.Token), 401, "key_expired"},
		{"revoked", "/api/inventory/items", bearer(revoked.Token), 401, "key_revoked"},
		{"suspended", "/api/inventory/items", apiKey(suspended.Token), 403, "key_suspended"},
		{"scope missing", "/api/sales/orders", bearer(reader.Token), 403, "scope_missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.count()
			resp := get(t, c, gw.url(tt.path), tt.header)
			checkProblem(t, "GET "+tt.path+" with "+tt.name, resp, tt.wantStatus, tt.wantReason)
			if n := up.count() - before; n != 0 {
				t.Errorf("upstream received %d requests, want 0", n)
			}
		})
	}

	t.Run("scope missing names the scope", func(t *testing.T) {
		resp := get(t, c, gw.url("/api/sales/orders"), bearer(reader.Token))
		p := checkProblem(t, "GET /api/sales/orders with key reader", resp, 403, "scope_missing")
		if !strings.Contains(p.Detail, "sales:write") {
			t.Errorf("detail = %q, want it to name the missing scope sales:write", p.Detail)
		}
	})

	t.Run("request ids differ", func(t *testing.T) {
		first := checkProblem(t, "first GET", get(t, c, gw.url("/api/inventory/items"), nil), 401, "key_missing")
		second := checkProblem(t, "second GET", get(t, c, gw.url("/api/inventory/items"), nil), 401, "key_missing")
		if first.RequestID == second.RequestID {
			t.Errorf("two denials share request_id %q, want distinct ids", first.RequestID)
		}
	})
}

func TestKeyInQueryString(t *testing.T) {
	t.Parallel()
	reader := newTestKey(t, "reader")
	gw, up := startAPIKeyGateway(t, reader)
	c := clientFrom(t, "")

	escaped := url.QueryEscape(reader.Token)
	percentPrefix := "%61%77%72%61%5F" + strings.TrimPrefix(reader.Token, "awra_")

	tests := []struct {
		name   string
		query  string
		header http.Header
	}{
		{"api_key", "api_key=" + escaped, nil},
		{"apikey", "apikey=" + escaped, nil},
		{"access_token", "access_token=" + escaped, nil},
		{"token", "page=1&token=" + escaped, nil},
		{"upper-case name", "API_KEY=" + escaped, nil},
		{"token-shaped value", "q=" + escaped, nil},
		{"percent-encoded prefix", "q=" + percentPrefix, nil},
		{"behind other text", "q=x%20" + escaped, nil},
		{"behind a quote", "q=%22" + escaped, nil},
		{"behind a semicolon", "a=1;api_key=" + escaped, nil},
		{"behind Bearer", "q=Bearer+" + escaped, nil},
		{"with a valid header", "api_key=" + escaped, bearer(reader.Token)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.count()
			target := "/api/inventory/items?" + tt.query
			resp := get(t, c, gw.url(target), tt.header)
			p := checkProblem(t, "GET with the key in the query ("+tt.name+")", resp, 401, "key_missing")
			if !strings.Contains(strings.ToLower(p.Detail), "header") {
				t.Errorf("detail = %q, want it to say that the key belongs in a header", p.Detail)
			}
			if n := up.count() - before; n != 0 {
				t.Errorf("upstream received %d requests, want 0", n)
			}
		})
	}

	// The denials above are logged synchronously, so the log is complete.
	checkNoTokens(t, "the gateway log", []byte(gw.logText(t)))
}
