package review

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
)

// reportInput returns a full review input over the fixture deployment,
// with a few events of traffic.
func reportInput(t *testing.T) Input {
	t.Helper()
	d := loadFixture(t)
	u := NewUsage(d)
	events := []*audit.Event{
		apiEvent("k-inv", "GET", "/api/inventory/items", "203.0.113.7", true),
		apiEvent("k-inv", "GET", "/api/sales/q1", "203.0.113.7", false),
		{Module: audit.ModuleAPIKey, Decision: audit.DecisionDeny, Reason: policy.ReasonRateLimited, Status: 429, KeyID: "k-inv", Method: "GET", Host: "api.example.com:8443", Path: "/api/inventory/items"},
		{Module: audit.ModuleAPIKey, Decision: audit.DecisionAllow, Status: 502, KeyID: "k-inv", Method: "GET", Host: "api.example.com:8443", Path: "/api/inventory/items", ClientIP: "203.0.113.7"},
		{Module: audit.ModuleWebhook, Decision: audit.DecisionAllow, Status: 200, Provider: "stripe", Method: "POST", Host: "api.example.com:8443", Path: "/hooks/stripe"},
		{Module: audit.ModuleWebhook, Decision: audit.DecisionAllow, Status: 200, Reason: policy.ReasonWebhookDuplicate, Provider: "stripe", Method: "POST", Host: "api.example.com:8443", Path: "/hooks/stripe"},
		{Module: audit.ModuleSignedURL, Decision: audit.DecisionAllow, Status: 200, KeyID: "k20260101", Method: "GET", Host: "api.example.com:8443", Path: "/q1.csv"},
	}
	for _, ev := range events {
		u.Observe(ev)
	}
	res := cleanResult()
	return Input{
		Tool: "awragate review", Version: "test",
		GeneratedAt: time.Date(2026, 6, 1, 12, 30, 0, 0, time.UTC),
		AsOf:        reviewNow, Since: 30 * day,
		Config:     ConfigSource{Path: "deploy.json", Adapter: "json", SHA256: strings.Repeat("0", 64)},
		Deployment: d,
		Keys:       keysInput(inventoryKey(), goodKey("k-spare")),
		Audit:      AuditInput{Configured: true, Redis: "redis://127.0.0.1:6379/0", Stream: "review:audit", ChainKeySource: "environment", Result: res},
		Usage:      u,
		Policy:     DefaultPolicy(),
		Sealed:     true,
	}
}

func TestBuildDeterministic(t *testing.T) {
	a, err := json.Marshal(Build(reportInput(t)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		b, _ := json.Marshal(Build(reportInput(t)))
		if !bytes.Equal(a, b) {
			t.Fatalf("build %d differs from the first", i+2)
		}
	}
	m1 := RenderMarkdown(Build(reportInput(t)))
	m2 := RenderMarkdown(Build(reportInput(t)))
	if !bytes.Equal(m1, m2) {
		t.Error("RenderMarkdown differs between two builds of the same input")
	}
}

func TestBuildHealth(t *testing.T) {
	r := Build(reportInput(t))
	var inventory, stripe RouteHealth
	for _, rh := range r.Health.Routes {
		switch rh.Route {
		case "srv0 host api.example.com, path /api/inventory/*":
			inventory = rh
		case "srv0 host api.example.com, path /hooks/stripe":
			stripe = rh
		}
	}
	if inventory.Allowed != 2 || inventory.Upstream5xx != 1 || inventory.Denied != 1 {
		t.Errorf("inventory route = %+v, want 2 allowed, 1 upstream 5xx, 1 denied", inventory)
	}
	if len(inventory.Throttled) != 1 || inventory.Throttled[0] != (KeyCount{"k-inv", 1}) {
		t.Errorf("inventory throttled = %v, want k-inv 1", inventory.Throttled)
	}
	if stripe.WebhookForwarded != 1 || stripe.WebhookDuplicates != 1 {
		t.Errorf("stripe route = %+v, want 1 forwarded and 1 duplicate", stripe)
	}
	if r.Health.WebhookDelay != WebhookDelayNote {
		t.Errorf("webhook delay = %q", r.Health.WebhookDelay)
	}
	if len(r.Health.SigningKeys) != 1 || r.Health.SigningKeys[0] != (KeyCount{"k20260101", 1}) {
		t.Errorf("signing keys = %v, want k20260101 1", r.Health.SigningKeys)
	}
}

func TestBuildResult(t *testing.T) {
	r := Build(reportInput(t))
	// The fixture's second signing key has a 15-byte secret. The shopify
	// route without source_cidrs passes, because Shopify is not treated as
	// publishing its addresses.
	if got := r.Failed(); len(got) != 1 || got[0] != GateURLExpiry {
		t.Errorf("failed gates = %v, want [%s]", got, GateURLExpiry)
	}
	if r.Result != StatusFail || r.SchemaVersion != ReportSchemaVersion {
		t.Errorf("result, schema = %s, %d", r.Result, r.SchemaVersion)
	}
}

func TestWriteEvidenceHoldsNoSecret(t *testing.T) {
	in := reportInput(t)
	dir := filepath.Join(t.TempDir(), "out")
	ev, err := PrepareDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{AuditExportFile, AlertsFile} {
		os.WriteFile(filepath.Join(ev, name), nil, 0o600)
	}
	r := Build(in)
	if err := WriteEvidence(dir, r, in); err != nil {
		t.Fatalf("WriteEvidence = %v", err)
	}

	secrets := []string{"chain-key-of-the-review-fixture", "url-key-a-of-the-review-fixture", "short-url-key-b", "review_fixture_stripe_secret", "shopify-review-fixture-secret", "password", strings.Repeat("ab", 32)}
	files, err := listFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(EvidenceFiles()) {
		t.Errorf("files written = %v, want %v", files, EvidenceFiles())
	}
	for _, f := range files {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s contains the secret or hash starting %.6q", f, s)
			}
		}
	}
}

func TestPrepareDirRejectsNonEmpty(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "old.txt"), []byte("x"), 0o600)
	if _, err := PrepareDir(dir); err == nil {
		t.Error("PrepareDir(non-empty) = nil error, want an error")
	}
}

func TestMarkdownEscapes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a|b", `a\|b`},
		{"<script>", "&lt;script&gt;"},
		{"line\nbreak", "line break"},
		{"*bold* _it_ [link](x) `code` # h", `\*bold\* \_it\_ \[link\](x) \` + "`code\\`" + ` \# h`},
	}
	for _, tt := range tests {
		if got := md(tt.in); got != tt.want {
			t.Errorf("md(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := code("a`b|c\nd"); got != "`a'b\\|c d`" {
		t.Errorf("code = %q", got)
	}
}

func TestBuildWithoutStream(t *testing.T) {
	in := reportInput(t)
	in.Usage = nil
	in.Audit = AuditInput{Configured: true, ChainKeySource: "environment", Err: os.ErrDeadlineExceeded}
	r := Build(in)
	if got := findingCodes(r.LeastPrivilege.Findings); !slices.Equal(got, []string{"lp_use_unknown"}) {
		t.Errorf("least-privilege findings = %v, want [lp_use_unknown]", got)
	}
	if len(r.LeastPrivilege.Plan) != 0 {
		t.Errorf("plan = %v, want none without observed use", r.LeastPrivilege.Plan)
	}
	if got := r.Failed(); !slices.Equal(got, []GateID{GateURLExpiry, GateAuditPackage, GateLogsArchived}) {
		t.Errorf("failed gates = %v", got)
	}
}
