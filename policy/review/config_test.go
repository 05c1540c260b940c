package review

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/awra/awragate/policy/audit"
)

// fixtureEnv is the environment of the deploy.json fixture. Its secrets
// are test data.
func fixtureEnv() Env {
	vars := map[string]string{
		"REVIEW_KEYS_FILE":          "/etc/awragate/keys.json",
		"AWRA_AUDIT_CHAIN_KEY":      "chain-key-of-the-review-fixture-0123456789",
		"REVIEW_URL_KEY_A":          "url-key-a-of-the-review-fixture-0123456789",
		"REVIEW_URL_KEY_B":          "short-url-key-b",
		"REVIEW_STRIPE_SECRET":      "whsec_review_fixture_stripe_secret",
		"REVIEW_SHOPIFY_SECRET":     "shopify-review-fixture-secret",
		"REVIEW_SHOPIFY_SECRET_OLD": "",
	}
	return Env{Getenv: func(name string) string { return vars[name] }}
}

func loadFixture(t testing.TB) *Deployment {
	t.Helper()
	data, err := os.ReadFile("testdata/deploy.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDeployment(data, fixtureEnv())
	if err != nil {
		t.Fatalf("ParseDeployment(deploy.json) = %v", err)
	}
	return d
}

func TestParseDeploymentApp(t *testing.T) {
	d := loadFixture(t)
	app := d.App
	if app == nil {
		t.Fatal("App = nil, want the awra app")
	}
	if got, want := app.KeysFile, "/etc/awragate/keys.json"; got != want {
		t.Errorf("KeysFile = %q, want %q", got, want)
	}
	if got, want := app.AuditStream, "review:audit"; got != want {
		t.Errorf("AuditStream = %q, want %q", got, want)
	}
	if !app.Audit {
		t.Error("Audit = false, want true")
	}
	if got, want := string(app.ResolveChainKey(fixtureEnv())), "chain-key-of-the-review-fixture-0123456789"; got != want {
		t.Errorf("ResolveChainKey = %q, want %q", got, want)
	}
	if got, want := RedactURL(app.Redis), "redis://127.0.0.1:6379/0"; got != want {
		t.Errorf("RedactURL(redis) = %q, want %q", got, want)
	}
}

func TestParseDeploymentHandlers(t *testing.T) {
	d := loadFixture(t)

	var scopes [][]string
	for _, r := range d.APIKeyRoutes {
		scopes = append(scopes, r.Scopes)
	}
	// Caddy orders handle blocks by path length, longest first.
	want := [][]string{{"admin:write"}, {"inventory:write"}, {"inventory:read"}, {"sales:read"}, {"reports:read"}, {"tenant:read"}}
	if !slices.EqualFunc(scopes, want, slices.Equal) {
		t.Errorf("api key route scopes = %v, want %v", scopes, want)
	}

	if len(d.SignedURLRoutes) != 1 {
		t.Fatalf("signed URL routes = %d, want 1", len(d.SignedURLRoutes))
	}
	su := d.SignedURLRoutes[0]
	if su.MaxTTL != time.Hour || su.ClockSkew != 30*time.Second {
		t.Errorf("max_ttl, clock_skew = %v, %v, want 1h, 30s (default)", su.MaxTTL, su.ClockSkew)
	}
	if got := []int{su.Keys[0].Secret.Length, su.Keys[1].Secret.Length}; got[0] != 42 || got[1] != 15 {
		t.Errorf("secret lengths = %v, want [42 15]", got)
	}
	if su.Label != "srv0 host api.example.com, path /files/*" {
		t.Errorf("label = %q", su.Label)
	}

	if len(d.WebhookRoutes) != 2 {
		t.Fatalf("webhook routes = %d, want 2", len(d.WebhookRoutes))
	}
	stripe, shopify := d.WebhookRoutes[1], d.WebhookRoutes[0]
	if stripe.Provider != "stripe" || stripe.ReplayWindow != 48*time.Hour || stripe.MaxDeliveries != 10 || stripe.MaxBody != 1<<20 {
		t.Errorf("stripe route = %+v", stripe)
	}
	if len(shopify.Secrets) != 2 || len(shopify.Secrets[1].Unresolved) != 1 {
		t.Errorf("shopify secrets = %+v, want 2 with the second unresolved", shopify.Secrets)
	}

	srv := d.Servers[0]
	if !srv.TrustedProxiesStrict || srv.TrustedProxySource != "static" || srv.AwraRoutes != 9 {
		t.Errorf("server = %+v, want strict, static and 9 awra routes", srv)
	}
}

func TestParseDeploymentErrors(t *testing.T) {
	tests := []struct {
		name string
		json string
	}{
		{"not JSON", `{`},
		{"app not an object", `{"apps":{"awra":[]}}`},
		{"bad lifetime", `{"apps":{"awra":{"max_key_lifetime":"forever"}}}`},
		{"negative lifetime", `{"apps":{"awra":{"max_key_lifetime":-5}}}`},
		{"bad max_ttl", `{"apps":{"http":{"servers":{"s":{"routes":[{"handle":[{"handler":"awra_signed_url","max_ttl":"soon"}]}]}}}}}`},
		{"bad regexp", `{"apps":{"http":{"servers":{"s":{"routes":[{"match":[{"path_regexp":{"pattern":"("}}]}]}}}}}`},
		{"handler not an object", `{"apps":{"http":{"servers":{"s":{"routes":[{"handle":[7]}]}}}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseDeployment([]byte(tt.json), Env{}); err == nil {
				t.Errorf("ParseDeployment(%s) = nil error, want an error", tt.json)
			}
		})
	}
}

func TestParseDeploymentMaxKeyLifetime(t *testing.T) {
	tests := []struct {
		json string
		want time.Duration
	}{
		{`{"apps":{"awra":{"max_key_lifetime":"180d"}}}`, 180 * day},
		{`{"apps":{"awra":{"max_key_lifetime":"2160h"}}}`, 90 * day},
		{`{"apps":{"awra":{"max_key_lifetime":86400000000000}}}`, day},
		{`{"apps":{"awra":{}}}`, 0},
	}
	for _, tt := range tests {
		d, err := ParseDeployment([]byte(tt.json), Env{})
		if err != nil {
			t.Fatalf("ParseDeployment(%s) = %v", tt.json, err)
		}
		if d.App.MaxKeyLifetime != tt.want {
			t.Errorf("ParseDeployment(%s).App.MaxKeyLifetime = %v, want %v", tt.json, d.App.MaxKeyLifetime, tt.want)
		}
	}
}

func TestDeploymentMap(t *testing.T) {
	d := loadFixture(t)
	routeOf := func(scopes ...string) []int {
		for i, h := range d.router.handlers {
			if slices.Equal(h.scopes, scopes) && h.ref.Module == audit.ModuleAPIKey {
				return []int{i}
			}
		}
		t.Fatalf("no api key route requires %v", scopes)
		return nil
	}
	var signedURL int
	for i, h := range d.router.handlers {
		if h.ref.Module == audit.ModuleSignedURL {
			signedURL = i
		}
	}

	tests := []struct {
		name        string
		module      audit.Module
		method      string
		host, path  string
		wantRoutes  []int
		wantCertain bool
	}{
		{"inventory", audit.ModuleAPIKey, "GET", "api.example.com:8443", "/api/inventory/items", routeOf("inventory:read"), true},
		{"case-insensitive path", audit.ModuleAPIKey, "GET", "api.example.com:8443", "/API/Inventory/items", routeOf("inventory:read"), true},
		{"prefix sibling", audit.ModuleAPIKey, "POST", "api.example.com:8443", "/api/inventory-admin/items", routeOf("inventory:write"), true},
		{"other host", audit.ModuleAPIKey, "GET", "admin.example.com:8443", "/api/inventory/items", routeOf("admin:write"), true},
		{"host without port", audit.ModuleAPIKey, "GET", "admin.example.com", "/api/x", routeOf("admin:write"), true},
		{"method and path matcher", audit.ModuleAPIKey, "GET", "api.example.com:8443", "/reports/q1", routeOf("reports:read"), true},
		{"method does not match", audit.ModuleAPIKey, "POST", "api.example.com:8443", "/reports/q1", routeOf("tenant:read"), false},
		{"header matcher is uncertain", audit.ModuleAPIKey, "GET", "api.example.com:8443", "/other", routeOf("tenant:read"), false},
		{"strip prefix put back", audit.ModuleSignedURL, "GET", "api.example.com:8443", "/report.csv", []int{signedURL}, true},
		{"unknown host", audit.ModuleAPIKey, "GET", "www.example.com:8443", "/api/inventory/x", []int{}, false},
		{"module mismatch", audit.ModuleWebhook, "GET", "api.example.com:8443", "/api/inventory/x", []int{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &audit.Event{Module: tt.module, Method: tt.method, Host: tt.host, Path: tt.path}
			m := d.Map(ev)
			if !slices.Equal(m.Handlers, tt.wantRoutes) || m.Certain != tt.wantCertain {
				t.Errorf("Map(%s %s%s) = %v certain %v, want %v certain %v", tt.method, tt.host, tt.path, m.Handlers, m.Certain, tt.wantRoutes, tt.wantCertain)
			}
		})
	}
}

func TestMatchPaths(t *testing.T) {
	tests := []struct {
		patterns []string
		path     string
		want     tri
	}{
		{[]string{"/api/*"}, "/api/x", triYes},
		{[]string{"/api/*"}, "/apix", triNo},
		{[]string{"*.csv"}, "/files/a.csv", triYes},
		{[]string{"*report*"}, "/files/q1-report.csv", triYes},
		{[]string{"/a/*/c"}, "/a/b/c", triYes},
		{[]string{"/exact"}, "/exact", triYes},
		{[]string{"/exact"}, "/exact/", triNo},
		{[]string{"/api/*"}, "/api//x", triYes},
		{[]string{"/api/*"}, "/other/../api/x", triYes},
		{[]string{"/api/%2F*"}, "/api/%2Fx", triYes},
		{[]string{"/{vars.x}/*"}, "/a/b", triMaybe},
		{[]string{"*"}, "/anything", triYes},
		{[]string{"/api/*"}, "/api/%zz", triMaybe},
		{nil, "/x", triYes},
	}
	for _, tt := range tests {
		if got := matchPaths(tt.patterns, tt.path); got != tt.want {
			t.Errorf("matchPaths(%q, %q) = %v, want %v", tt.patterns, tt.path, got, tt.want)
		}
	}
}

func TestListenHasPort(t *testing.T) {
	tests := []struct {
		listen, port string
		want         bool
	}{
		{":8443", "8443", true},
		{"tcp/:8443", "8443", true},
		{"127.0.0.1:8000-8010", "8005", true},
		{"[::1]:443", "443", true},
		{":80", "8443", false},
		{"unix//run/caddy.sock", "80", false},
	}
	for _, tt := range tests {
		if got := listenHasPort(tt.listen, tt.port); got != tt.want {
			t.Errorf("listenHasPort(%q, %q) = %v, want %v", tt.listen, tt.port, got, tt.want)
		}
	}
}
