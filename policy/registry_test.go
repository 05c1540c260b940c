package policy

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// testKey returns a valid active record for id and a freshly generated
// token for it.
func testKey(t testing.TB, id string) (KeyRecord, string) {
	t.Helper()
	tok, err := NewToken(id)
	if err != nil {
		t.Fatalf("NewToken: %v", err)
	}
	exp := testNow.Add(90 * 24 * time.Hour)
	return KeyRecord{
		ID:           id,
		Owner:        "platform team",
		Scopes:       []string{"inventory:read"},
		AllowedCIDRs: []string{"203.0.113.0/24", "2001:db8::/32"},
		CreatedAt:    testNow,
		ExpiresAt:    &exp,
		Status:       KeyActive,
		Secrets:      []SecretHash{{Hash: FormatHash(HashToken(tok)), CreatedAt: testNow}},
	}, tok
}

func mustRegistry(t testing.TB, recs ...KeyRecord) *Registry {
	t.Helper()
	reg, err := NewRegistry(&KeysFile{Version: KeysFileVersion, Keys: recs}, nil)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	return reg
}

func mustScopes(t testing.TB, scopes ...string) []Scope {
	t.Helper()
	var out []Scope
	for _, s := range scopes {
		sc, err := ParseRequiredScope(s)
		if err != nil {
			t.Fatalf("ParseRequiredScope(%q): %v", s, err)
		}
		out = append(out, sc)
	}
	return out
}

func TestAuthenticate(t *testing.T) {
	active, activeTok := testKey(t, "active")
	revoked, revokedTok := testKey(t, "revoked")
	revoked.Status = KeyRevoked
	suspended, suspendedTok := testKey(t, "suspended")
	suspended.Status = KeySuspended
	broad, broadTok := testKey(t, "broad")
	broad.Scopes = []string{"inventory:*", "*:read"}
	reg := mustRegistry(t, active, revoked, suspended, broad)

	inside := netip.MustParseAddr("203.0.113.10")
	outside := netip.MustParseAddr("192.0.2.10")
	wrongSecret := activeTok[:len(activeTok)-1] + flipBase62(activeTok[len(activeTok)-1])
	unknown := strings.Replace(activeTok, "awra_active_", "awra_nobody_", 1)

	tests := []struct {
		name     string
		token    string
		ip       netip.Addr
		required []string
		want     Reason
		wantKey  string
	}{
		{"allowed", activeTok, inside, []string{"inventory:read"}, ReasonNone, "active"},
		{"allowed over IPv6", activeTok, netip.MustParseAddr("2001:db8::5"), []string{"inventory:read"}, ReasonNone, "active"},
		{"allowed from mapped IPv4", activeTok, netip.MustParseAddr("::ffff:203.0.113.10"), []string{"inventory:read"}, ReasonNone, "active"},
		{"no required scopes", activeTok, inside, nil, ReasonNone, "active"},
		{"malformed token", "Bearer " + activeTok, inside, nil, ReasonKeyInvalid, ""},
		{"unknown key id", unknown, inside, nil, ReasonKeyInvalid, "nobody"},
		{"wrong secret", wrongSecret, inside, nil, ReasonKeyInvalid, "active"},
		{"truncated token", activeTok[:len(activeTok)-5], inside, nil, ReasonKeyInvalid, "active"},
		{"revoked", revokedTok, inside, nil, ReasonKeyRevoked, "revoked"},
		{"suspended", suspendedTok, inside, nil, ReasonKeySuspended, "suspended"},
		{"outside networks", activeTok, outside, nil, ReasonIPNotAllowed, "active"},
		{"no client address", activeTok, netip.Addr{}, nil, ReasonIPNotAllowed, "active"},
		{"scope missing", activeTok, inside, []string{"inventory:read", "inventory:write"}, ReasonScopeMissing, "active"},
		{"wildcard resource", broadTok, inside, []string{"inventory:write"}, ReasonNone, "broad"},
		{"wildcard action", broadTok, inside, []string{"sales:read"}, ReasonNone, "broad"},
		{"wildcards do not cover", broadTok, inside, []string{"sales:write"}, ReasonScopeMissing, "broad"},
		// A revoked key from a foreign network reports the revocation: the
		// status is checked before the network.
		{"revoked and outside", revokedTok, outside, nil, ReasonKeyRevoked, "revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := reg.Authenticate(AuthRequest{Token: tt.token, ClientIP: tt.ip, Required: mustScopes(t, tt.required...), Now: testNow})
			if res.Reason != tt.want || res.KeyID != tt.wantKey {
				t.Errorf("Authenticate = reason %q, key %q; want %q, %q", res.Reason, res.KeyID, tt.want, tt.wantKey)
			}
		})
	}
}

func flipBase62(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestAuthenticateExpiryBoundary(t *testing.T) {
	rec, tok := testKey(t, "k")
	exp := testNow.Add(time.Hour)
	rec.ExpiresAt = &exp
	reg := mustRegistry(t, rec)
	ip := netip.MustParseAddr("203.0.113.1")

	for _, tt := range []struct {
		now  time.Time
		want Reason
	}{
		{exp.Add(-time.Nanosecond), ReasonNone},
		{exp, ReasonKeyExpired},
		{exp.Add(time.Second), ReasonKeyExpired},
	} {
		res := reg.Authenticate(AuthRequest{Token: tok, ClientIP: ip, Now: tt.now})
		if res.Reason != tt.want {
			t.Errorf("Authenticate at expiry%+v = %q, want %q", tt.now.Sub(exp), res.Reason, tt.want)
		}
	}
}

func TestAuthenticateRotationGrace(t *testing.T) {
	rec, oldTok := testKey(t, "k")
	newTok, err := NewToken("k")
	if err != nil {
		t.Fatal(err)
	}
	graceEnd := testNow.Add(24 * time.Hour)
	rec.Secrets[0].NotAfter = &graceEnd
	rec.Secrets = append(rec.Secrets, SecretHash{Hash: FormatHash(HashToken(newTok)), CreatedAt: testNow})
	reg := mustRegistry(t, rec)
	ip := netip.MustParseAddr("203.0.113.1")

	for _, tt := range []struct {
		name  string
		token string
		now   time.Time
		want  Reason
	}{
		{"old token in grace", oldTok, graceEnd.Add(-time.Second), ReasonNone},
		{"old token at grace end", oldTok, graceEnd, ReasonKeyInvalid},
		{"new token in grace", newTok, graceEnd.Add(-time.Second), ReasonNone},
		{"new token after grace", newTok, graceEnd.Add(time.Hour), ReasonNone},
	} {
		res := reg.Authenticate(AuthRequest{Token: tt.token, ClientIP: ip, Now: tt.now})
		if res.Reason != tt.want {
			t.Errorf("%s: Authenticate = %q, want %q", tt.name, res.Reason, tt.want)
		}
	}
}

func TestNewRegistryKeepsLimiterAcrossReload(t *testing.T) {
	rec, _ := testKey(t, "k")
	rec.RateLimit = &RateLimit{Rate: "2/s", Burst: 2}
	first := mustRegistry(t, rec)

	second, err := NewRegistry(&KeysFile{Version: 1, Keys: []KeyRecord{rec}}, first)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := first.Lookup("k")
	b, _ := second.Lookup("k")
	if a.Limiter != b.Limiter {
		t.Error("reload with the same rate limit replaced the limiter; want it carried over")
	}

	rec.RateLimit = &RateLimit{Rate: "5/s", Burst: 5}
	third, err := NewRegistry(&KeysFile{Version: 1, Keys: []KeyRecord{rec}}, second)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := third.Lookup("k")
	if c.Limiter == b.Limiter || c.Limiter.Burst() != 5 {
		t.Error("reload with a new rate limit kept the old limiter")
	}
}

func TestParseKeysFileErrors(t *testing.T) {
	valid, _ := testKey(t, "valid")
	encode := func(mutate func(m map[string]any)) string {
		raw, _ := json.Marshal(valid)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		mutate(m)
		doc, _ := json.Marshal(map[string]any{"version": 1, "keys": []any{m}})
		return string(doc)
	}
	validDoc := encode(func(map[string]any) {})

	tests := []struct {
		name string
		doc  string
		want []string // fragments the error must contain
	}{
		{"bad JSON", `{"version":1,"keys":[`, []string{"decoding keys file"}},
		{"trailing data", validDoc + `{}`, []string{"after the JSON document"}},
		{"unknown field", encode(func(m map[string]any) { m["scope"] = "x" }), []string{"'valid'", "unknown field", "scope"}},
		{"bad version", `{"version":2,"keys":[]}`, []string{"version 2"}},
		{"bad CIDR", encode(func(m map[string]any) { m["allowed_cidrs"] = []string{"10.0.0.1/8"} }), []string{"'valid'", "allowed_cidrs", "10.0.0.1/8"}},
		{"no CIDR", encode(func(m map[string]any) { m["allowed_cidrs"] = []string{} }), []string{"'valid'", "allowed_cidrs", "0.0.0.0/0"}},
		{"no expiry", encode(func(m map[string]any) { delete(m, "expires_at") }), []string{"'valid'", "expires_at"}},
		{"bad scope", encode(func(m map[string]any) { m["scopes"] = []string{"inventory"} }), []string{"'valid'", "scopes", "'inventory'"}},
		{"bad status", encode(func(m map[string]any) { m["status"] = "paused" }), []string{"'valid'", "status", "'paused'"}},
		{"bad id", encode(func(m map[string]any) { m["id"] = "Bad_ID" }), []string{"key #1", "'id'", "'Bad_ID'"}},
		{"bad hash", encode(func(m map[string]any) { m["secrets"] = []map[string]any{{"hash": "md5:00", "created_at": testNow}} }), []string{"'valid'", "secrets[0].hash"}},
		{"bad rate", encode(func(m map[string]any) { m["rate_limit"] = map[string]any{"rate": "20/d", "burst": 1} }), []string{"'valid'", "rate_limit.rate", "'20/d'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeysFile([]byte(tt.doc))
			if err == nil {
				t.Fatal("ParseKeysFile succeeded; want an error")
			}
			for _, frag := range tt.want {
				if !strings.Contains(err.Error(), frag) {
					t.Errorf("ParseKeysFile error = %q; want it to contain %q", err, frag)
				}
			}
		})
	}

	t.Run("duplicate id", func(t *testing.T) {
		raw, _ := json.Marshal(KeysFile{Version: 1, Keys: []KeyRecord{valid, valid}})
		_, err := ParseKeysFile(raw)
		if err == nil || !strings.Contains(err.Error(), "'valid'") || !strings.Contains(err.Error(), "duplicate") {
			t.Errorf("ParseKeysFile error = %v; want a duplicate error naming 'valid'", err)
		}
	})

	t.Run("error hides hash", func(t *testing.T) {
		_, err := ParseKeysFile([]byte(encode(func(m map[string]any) { m["status"] = "bad" })))
		if err == nil || strings.Contains(err.Error(), valid.Secrets[0].Hash[7:20]) {
			t.Errorf("ParseKeysFile error = %v; it must not quote the stored hash", err)
		}
	})
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"20/s": 20, "120/m": 2, "3600/h": 1, "0.5/s": 0.5} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v, nil", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "20", "20/d", "-1/s", "0/s", "x/s", "/s"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) succeeded; want an error", bad)
		}
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	rec, tok := testKey(b, "bench-key")
	rec.Scopes = []string{"inventory:read", "sales:read", "procurement:*"}
	reg := mustRegistry(b, rec)
	req := AuthRequest{Token: tok, ClientIP: netip.MustParseAddr("203.0.113.50"), Required: mustScopes(b, "inventory:read"), Now: testNow}
	b.ReportAllocs()
	for b.Loop() {
		if res := reg.Authenticate(req); !res.Allowed() {
			b.Fatalf("denied: %s", res.Reason)
		}
	}
}

func BenchmarkAuthenticateIPv6(b *testing.B) {
	rec, tok := testKey(b, "bench-key")
	reg := mustRegistry(b, rec)
	req := AuthRequest{Token: tok, ClientIP: netip.MustParseAddr("2001:db8::50"), Required: mustScopes(b, "inventory:read"), Now: testNow}
	b.ReportAllocs()
	for b.Loop() {
		if res := reg.Authenticate(req); !res.Allowed() {
			b.Fatalf("denied: %s", res.Reason)
		}
	}
}

func BenchmarkAuthenticateUnknownKey(b *testing.B) {
	rec, tok := testKey(b, "bench-key")
	reg := mustRegistry(b, rec)
	req := AuthRequest{Token: strings.Replace(tok, "bench-key", "other-key", 1), ClientIP: netip.MustParseAddr("203.0.113.50"), Now: testNow}
	b.ReportAllocs()
	for b.Loop() {
		reg.Authenticate(req)
	}
}
