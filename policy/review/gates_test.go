package review

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

// reviewNow is the review time of the gate tests.
var reviewNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// goodKey returns a key that passes every gate: owned, 90 days old of a
// 180-day life, one exact scope, one narrow network.
func goodKey(id string) policy.KeyRecord {
	created := reviewNow.Add(-90 * day)
	expires := created.Add(180 * day)
	return policy.KeyRecord{
		ID: id, Owner: "team-inventory", Scopes: []string{"inventory:read"},
		AllowedCIDRs: []string{"203.0.113.0/24"}, CreatedAt: created, ExpiresAt: &expires,
		Status:  policy.KeyActive,
		Secrets: []policy.SecretHash{{Hash: "sha256:" + strings.Repeat("ab", 32), CreatedAt: created}},
	}
}

func keysInput(keys ...policy.KeyRecord) KeysInput {
	return KeysInput{Path: "keys.json", File: &policy.KeysFile{Version: 1, Keys: keys}}
}

// codes returns the codes of the findings with severity sev, sorted.
func codes(g Gate, sev Severity) []string {
	var out []string
	for _, f := range g.Findings {
		if f.Severity == sev {
			out = append(out, f.Code)
		}
	}
	slices.Sort(out)
	return out
}

func TestCheckKeyScopes(t *testing.T) {
	edit := func(f func(k *policy.KeyRecord)) policy.KeyRecord {
		k := goodKey("k1")
		f(&k)
		return k
	}
	at := func(d time.Duration) *time.Time { t := reviewNow.Add(d); return &t }

	tests := []struct {
		name     string
		key      policy.KeyRecord
		wantFail []string
		wantWarn []string
	}{
		{"good key", goodKey("k1"), nil, nil},
		{"owner missing", edit(func(k *policy.KeyRecord) { k.Owner = " " }), []string{"key_owner_missing"}, nil},
		{"lifetime over a year", edit(func(k *policy.KeyRecord) { k.ExpiresAt = at(300 * day) }), []string{"key_lifetime_exceeds_max"}, nil},
		{"lifetime exactly the maximum", edit(func(k *policy.KeyRecord) { k.ExpiresAt = at(275 * day) }), nil, nil},
		{"expired but active", edit(func(k *policy.KeyRecord) { k.ExpiresAt = at(-time.Hour) }), []string{"key_expired_active"}, nil},
		{"expires at the review time", edit(func(k *policy.KeyRecord) { k.ExpiresAt = at(0) }), []string{"key_expired_active"}, nil},
		{"expired and suspended", edit(func(k *policy.KeyRecord) { k.ExpiresAt = at(-time.Hour); k.Status = policy.KeySuspended }), nil, nil},
		{"expiring within 14 days", edit(func(k *policy.KeyRecord) { k.ExpiresAt = at(14 * day) }), nil, []string{"key_expiring_soon"}},
		{"expiring in 15 days", edit(func(k *policy.KeyRecord) { k.ExpiresAt = at(15 * day) }), nil, nil},
		{"wildcard action", edit(func(k *policy.KeyRecord) { k.Scopes = []string{"inventory:*"} }), []string{"key_scope_wildcard"}, nil},
		{"wildcard everything", edit(func(k *policy.KeyRecord) { k.Scopes = []string{"*:*", "sales:read"} }), []string{"key_scope_wildcard"}, nil},
		{"every address is broad", edit(func(k *policy.KeyRecord) { k.AllowedCIDRs = []string{"0.0.0.0/0", "::/0"} }), nil, []string{"key_network_broad"}},
		{"created unknown", edit(func(k *policy.KeyRecord) { k.CreatedAt = time.Time{} }), nil, []string{"key_created_unknown"}},
		{"revoked keys are skipped", edit(func(k *policy.KeyRecord) {
			k.Status, k.Owner, k.Scopes, k.ExpiresAt = policy.KeyRevoked, "", []string{"*:*"}, at(-day)
		}), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := checkKeyScopes(keysInput(tt.key), DefaultPolicy(), reviewNow)
			if got := codes(g, SeverityFail); !slices.Equal(got, tt.wantFail) {
				t.Errorf("fail codes = %v, want %v", got, tt.wantFail)
			}
			if got := codes(g, SeverityWarn); !slices.Equal(got, tt.wantWarn) {
				t.Errorf("warn codes = %v, want %v", got, tt.wantWarn)
			}
			if wantStatus := map[bool]GateStatus{true: StatusFail, false: StatusPass}[len(tt.wantFail) > 0]; g.Status != wantStatus {
				t.Errorf("status = %s, want %s", g.Status, wantStatus)
			}
		})
	}
}

func TestCheckKeyScopesUnreadableFile(t *testing.T) {
	g := checkKeyScopes(KeysInput{Path: "keys.json", Err: errors.New("no such file")}, DefaultPolicy(), reviewNow)
	if got := codes(g, SeverityFail); !slices.Equal(got, []string{"keys_file_unreadable"}) {
		t.Errorf("fail codes = %v, want [keys_file_unreadable]", got)
	}
}

func TestCheckKeyScopesPolicyLifetime(t *testing.T) {
	p := DefaultPolicy()
	p.MaxKeyLifetime = 90 * day
	g := checkKeyScopes(keysInput(goodKey("k1")), p, reviewNow)
	if got := codes(g, SeverityFail); !slices.Equal(got, []string{"key_lifetime_exceeds_max"}) {
		t.Errorf("fail codes with a 90d maximum = %v, want [key_lifetime_exceeds_max]", got)
	}
}

// signedURLDeployment returns a deployment with one signed-URL route.
func signedURLDeployment(maxTTL time.Duration, keys ...SigningKeyInfo) *Deployment {
	return &Deployment{SignedURLRoutes: []SignedURLRoute{{
		RouteRef: RouteRef{ID: "/r", Label: "srv0 path /files/*"}, MaxTTL: maxTTL, ClockSkew: 30 * time.Second, Keys: keys,
	}}}
}

func secretOf(length int) SecretInfo {
	return SecretInfo{Source: "{env.K}", Placeholders: []string{"env.K"}, Length: length}
}

func TestCheckURLExpiry(t *testing.T) {
	recent := "k" + reviewNow.Add(-10*day).Format("20060102")
	tests := []struct {
		name     string
		d        *Deployment
		policy   func(p *Policy)
		wantFail []string
		wantWarn []string
	}{
		{"good route", signedURLDeployment(time.Hour, SigningKeyInfo{recent, secretOf(32)}), nil, nil, nil},
		{"no routes", &Deployment{}, nil, nil, nil},
		{"max_ttl above policy", signedURLDeployment(25*time.Hour, SigningKeyInfo{recent, secretOf(48)}), nil, []string{"url_max_ttl_exceeds_policy"}, nil},
		{"max_ttl within a stricter policy", signedURLDeployment(time.Hour, SigningKeyInfo{recent, secretOf(48)}), func(p *Policy) { p.MaxURLTTL = 30 * time.Minute }, []string{"url_max_ttl_exceeds_policy"}, nil},
		{"secret of 31 bytes", signedURLDeployment(time.Hour, SigningKeyInfo{recent, secretOf(31)}), nil, []string{"url_secret_too_short"}, nil},
		{"secret unresolved", signedURLDeployment(time.Hour, SigningKeyInfo{recent, SecretInfo{Source: "{env.K}", Placeholders: []string{"env.K"}, Unresolved: []string{"env.K"}}}), nil, []string{"url_secret_unresolved"}, nil},
		{"secret in the configuration", signedURLDeployment(time.Hour, SigningKeyInfo{recent, SecretInfo{Literal: true, Length: 40}}), nil, nil, []string{"url_secret_in_config"}},
		{"key without date", signedURLDeployment(time.Hour, SigningKeyInfo{"primary", secretOf(32)}), nil, []string{"url_key_age_unknown"}, nil},
		{"key date from option", signedURLDeployment(time.Hour, SigningKeyInfo{"primary", secretOf(32)}), func(p *Policy) {
			p.SigningKeyCreated = map[string]time.Time{"primary": reviewNow.Add(-5 * day)}
		}, nil, nil},
		{"option overrides an old id date", signedURLDeployment(time.Hour, SigningKeyInfo{"k2020", secretOf(32)}), func(p *Policy) {
			p.SigningKeyCreated = map[string]time.Time{"k2020": reviewNow.Add(-5 * day)}
		}, nil, nil},
		{"key older than 90 days", signedURLDeployment(time.Hour, SigningKeyInfo{"k20260101", secretOf(32)}), nil, []string{"url_key_rotation_overdue"}, nil},
		{"year-only id counts from January", signedURLDeployment(time.Hour, SigningKeyInfo{"k2026", secretOf(32)}), nil, []string{"url_key_rotation_overdue"}, nil},
		{"date in the future", signedURLDeployment(time.Hour, SigningKeyInfo{"k20270101", secretOf(32)}), nil, nil, []string{"url_key_date_future"}},
		{"route without keys", signedURLDeployment(time.Hour), nil, []string{"url_keys_missing"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			if tt.policy != nil {
				tt.policy(&p)
			}
			g := checkURLExpiry(tt.d, p, reviewNow)
			if got := codes(g, SeverityFail); !slices.Equal(got, tt.wantFail) {
				t.Errorf("fail codes = %v, want %v", got, tt.wantFail)
			}
			if got := codes(g, SeverityWarn); !slices.Equal(got, tt.wantWarn) {
				t.Errorf("warn codes = %v, want %v", got, tt.wantWarn)
			}
		})
	}
}

func TestCheckIPLimits(t *testing.T) {
	proxied := func(edit func(s *Server)) *Deployment {
		s := Server{Name: "srv0", AwraRoutes: 1, TrustedProxySource: "static", TrustedProxyRanges: []string{"10.0.0.0/8"}, TrustedProxiesStrict: true}
		if edit != nil {
			edit(&s)
		}
		return &Deployment{Servers: []Server{s}}
	}
	hook := func(provider string, cidrs ...string) *Deployment {
		d := proxied(nil)
		d.WebhookRoutes = []WebhookRoute{{RouteRef: RouteRef{Label: "srv0 path /hooks"}, Provider: provider, SourceCIDRs: cidrs}}
		return d
	}
	broadKey := goodKey("k1")
	broadKey.AllowedCIDRs = []string{"203.0.113.0/24", "::/0"}
	excepted := broadKey
	excepted.IPException = "mobile clients on carrier networks"

	tests := []struct {
		name     string
		d        *Deployment
		keys     KeysInput
		wantFail []string
		wantWarn []string
	}{
		{"good", proxied(nil), keysInput(goodKey("k1")), nil, nil},
		{"every address without exception", proxied(nil), keysInput(broadKey), []string{"key_network_every_address"}, nil},
		{"every address with exception", proxied(nil), keysInput(excepted), nil, []string{"key_network_exception"}},
		{"strict off", proxied(func(s *Server) { s.TrustedProxiesStrict = false }), keysInput(), []string{"trusted_proxies_strict_off"}, nil},
		{"strict off without awra routes", proxied(func(s *Server) { s.TrustedProxiesStrict, s.AwraRoutes = false, 0 }), keysInput(), nil, nil},
		{"no trusted proxies", proxied(func(s *Server) { s.TrustedProxySource, s.TrustedProxiesStrict = "", false }), keysInput(), nil, nil},
		{"proxy range every IPv4 address", proxied(func(s *Server) { s.TrustedProxyRanges = []string{"0.0.0.0/0"} }), keysInput(), []string{"trusted_proxy_every_address"}, nil},
		{"proxy range every IPv6 address", proxied(func(s *Server) { s.TrustedProxyRanges = []string{"10.0.0.0/8", "::/0"} }), keysInput(), []string{"trusted_proxy_every_address"}, nil},
		{"proxy range with host bits", proxied(func(s *Server) { s.TrustedProxyRanges = []string{"127.0.0.1/8"} }), keysInput(), nil, nil},
		{"proxy range unreadable", proxied(func(s *Server) { s.TrustedProxyRanges = []string{"localhost"} }), keysInput(), nil, []string{"trusted_proxy_range_unreadable"}},
		{"dynamic proxy source", proxied(func(s *Server) { s.TrustedProxySource = "cloudflare" }), keysInput(), nil, []string{"trusted_proxies_unchecked"}},
		{"stripe without source_cidrs", hook("stripe"), keysInput(), []string{"webhook_source_cidrs_missing"}, nil},
		{"github without source_cidrs", hook("github"), keysInput(), []string{"webhook_source_cidrs_missing"}, nil},
		{"paystack without source_cidrs", hook("paystack"), keysInput(), []string{"webhook_source_cidrs_missing"}, nil},
		{"shopify without source_cidrs", hook("shopify"), keysInput(), nil, nil},
		{"stripe with source_cidrs", hook("stripe", "3.18.12.63"), keysInput(), nil, nil},
		{"source_cidrs of every address", hook("stripe", "0.0.0.0/0"), keysInput(), []string{"webhook_source_cidrs_every_address"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := checkIPLimits(tt.d, tt.keys, DefaultPolicy())
			if got := codes(g, SeverityFail); !slices.Equal(got, tt.wantFail) {
				t.Errorf("fail codes = %v, want %v", got, tt.wantFail)
			}
			if got := codes(g, SeverityWarn); !slices.Equal(got, tt.wantWarn) {
				t.Errorf("warn codes = %v, want %v", got, tt.wantWarn)
			}
		})
	}
}

func TestCheckArchive(t *testing.T) {
	tests := []struct {
		name     string
		in       Input
		wantFail []string
	}{
		{"sealed with export", Input{Sealed: true, Audit: AuditInput{Result: &AuditResult{}}}, nil},
		{"unsealed", Input{Audit: AuditInput{Result: &AuditResult{}}}, []string{"evidence_unsealed"}},
		{"no export", Input{Sealed: true}, []string{"audit_export_missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := codes(checkArchive(tt.in), SeverityFail); !slices.Equal(got, tt.wantFail) {
				t.Errorf("fail codes = %v, want %v", got, tt.wantFail)
			}
		})
	}
}
