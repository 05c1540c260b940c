package commands

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/spf13/cobra"

	_ "github.com/awra/awragate/modules/awra"
	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/keystore"
	"github.com/awra/awragate/policy/review"
)

// reviewFixture is the Caddyfile of the review package's tests.
const reviewFixture = "../../policy/review/testdata/deploy.caddyfile"

// reviewTestNow is the clock of the review command tests.
var reviewTestNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// executeReview runs 'awragate review args...' in process through cobra
// and returns stdout and the exit status caddycmd.Main would use.
func executeReview(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	root := &cobra.Command{Use: "awragate", SilenceUsage: true, SilenceErrors: true}
	cmd := &cobra.Command{Use: "review", Short: "review"}
	configureReviewCommand(cmd)
	root.AddCommand(cmd)

	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"review"}, args...))
	err := root.Execute()
	return out.String(), exitStatus(err)
}

// exitStatus returns the status caddycmd.Main exits with for err: the
// ExitCode of its unexported exit error, else 1 for any error.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		if f := v.Elem().FieldByName("ExitCode"); f.IsValid() && f.Kind() == reflect.Int {
			return int(f.Int())
		}
	}
	return 1
}

func TestReviewUsageErrors(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	os.MkdirAll(full, 0o700)
	os.WriteFile(filepath.Join(full, "x"), []byte("x"), 0o600)
	t.Setenv("REVIEW_TEST_BAD_KEY", "not a pem")
	out := func() string { return filepath.Join(t.TempDir(), "out") }

	tests := []struct {
		name string
		args []string
	}{
		{"no config", []string{"--out", out()}},
		{"no out", []string{"--config", reviewFixture}},
		{"bad since", []string{"--config", reviewFixture, "--out", out(), "--since", "1 month"}},
		{"bad as-of", []string{"--config", reviewFixture, "--out", out(), "--as-of", "yesterday"}},
		{"bad key date", []string{"--config", reviewFixture, "--out", out(), "--signing-key-created", "k1"}},
		{"bad max lifetime", []string{"--config", reviewFixture, "--out", out(), "--max-key-lifetime", "0d"}},
		{"apply without keys file", []string{"--config", reviewFixture, "--out", out(), "--apply-least-privilege"}},
		{"yes without apply", []string{"--config", reviewFixture, "--out", out(), "--yes"}},
		{"signing key unset", []string{"--config", reviewFixture, "--out", out(), "--signing-key-env", "REVIEW_TEST_UNSET"}},
		{"signing key not PEM", []string{"--config", reviewFixture, "--out", out(), "--signing-key-env", "REVIEW_TEST_BAD_KEY"}},
		{"out not empty", []string{"--config", reviewFixture, "--out", full}},
		{"config missing", []string{"--config", filepath.Join(dir, "none"), "--out", out()}},
		{"unknown adapter", []string{"--config", reviewFixture, "--adapter", "yaml", "--out", out()}},
		{"config not JSON", []string{"--config", reviewFixture, "--adapter", "json", "--out", out()}},
		{"unknown flag", []string{"--config", reviewFixture, "--out", out(), "--colour"}},
		{"extra argument", []string{"now", "--config", reviewFixture, "--out", out()}},
		{"verify without key", []string{"verify", dir}},
		{"verify without dir", []string{"verify", "--public-key", "x.pub"}},
		{"keygen without prefix", []string{"keygen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, status := executeReview(t, "", tt.args...); status != reviewExitUsage {
				t.Errorf("review %s: exit status = %d, want %d", strings.Join(tt.args, " "), status, reviewExitUsage)
			}
		})
	}
}

// fixtureRunner returns a runner over the fixture's environment, with a
// valid keys file and all secrets long enough.
func fixtureRunner(t *testing.T, env map[string]string) (*reviewRunner, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	r := &reviewRunner{
		stdout: &out, stderr: &out, stdin: strings.NewReader(""),
		getenv: func(name string) string { return env[name] },
		now:    func() time.Time { return reviewTestNow },
	}
	return r, &out
}

func fixtureKeysFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	created := reviewTestNow.Add(-10 * 24 * time.Hour)
	expires := created.Add(90 * 24 * time.Hour)
	err := keystore.Update(path, func(f *policy.KeysFile) error {
		f.Keys = append(f.Keys, policy.KeyRecord{
			ID: "k-inv", Owner: "team", Scopes: []string{"inventory:read"}, AllowedCIDRs: []string{"10.1.0.0/16"},
			CreatedAt: created, ExpiresAt: &expires, Status: policy.KeyActive,
			Secrets: []policy.SecretHash{{Hash: policy.FormatHash(policy.HashToken("awra_k-inv_" + strings.Repeat("a", 32))), CreatedAt: created}},
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReviewRunWithoutRedis(t *testing.T) {
	privPEM, pubPEM, err := review.GenerateSigningKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"REVIEW_URL_KEY_A": strings.Repeat("a", 40), "REVIEW_URL_KEY_B": strings.Repeat("b", 40),
		"REVIEW_STRIPE_SECRET": "whsec_x", "REVIEW_SHOPIFY_SECRET": "x", "SIGNING": string(privPEM),
		"AWRA_AUDIT_CHAIN_KEY": strings.Repeat("c", 32),
	}
	r, out := fixtureRunner(t, env)
	dir := filepath.Join(t.TempDir(), "out")
	a := reviewArgs{
		config: reviewFixture, out: dir, since: "30d", keysFile: fixtureKeysFile(t),
		redis: "redis://127.0.0.1:1/0", maxURLTTL: "24h", urlKeyRotation: "90d", signingKeyEnv: "SIGNING",
		signingKeyCreated: []string{"k2026-03-01=2026-03-01"},
	}
	status, err := r.run(context.Background(), a)
	if status != reviewExitFail || err == nil {
		t.Fatalf("run = %d, %v, want %d and an error: Redis is unreachable", status, err, reviewExitFail)
	}
	summary := out.String()
	for _, want := range []string{"review: FAIL", "PASS Key scopes audited", "FAIL Audit package complete: audit_stream_unreadable", "FAIL Security logs archived: audit_export_missing"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}

	pubPath := filepath.Join(t.TempDir(), "review.pub")
	os.WriteFile(pubPath, pubPEM, 0o644)
	if _, status := executeReview(t, "", "verify", dir, "--public-key", pubPath); status != reviewExitPass {
		t.Errorf("verify of the fresh package: exit status %d, want 0", status)
	}
	os.WriteFile(filepath.Join(dir, "evidence", review.KeysEvidenceFile), []byte("[]\n"), 0o600)
	stdout, status := executeReview(t, "", "verify", dir, "--public-key", pubPath)
	if status != reviewExitFail || !strings.Contains(stdout, "evidence/keys.json") {
		t.Errorf("verify after a change: exit status %d, output %q; want 1 naming evidence/keys.json", status, stdout)
	}
}

// TestReviewCaddyfileMatchesJSON checks that the command's adapter gives
// the deployment the review package's JSON fixture gives.
func TestReviewCaddyfileMatchesJSON(t *testing.T) {
	cfg, err := loadReviewConfig(reviewFixture, "")
	if err != nil {
		t.Fatalf("loadReviewConfig = %v", err)
	}
	if cfg.adapter != "caddyfile" {
		t.Errorf("adapter = %q, want caddyfile for a .caddyfile file", cfg.adapter)
	}
	fromCaddyfile, err := review.ParseDeployment(cfg.json, review.Env{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../policy/review/testdata/deploy.json")
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := review.ParseDeployment(data, review.Env{})
	if err != nil {
		t.Fatal(err)
	}
	labels := func(d *review.Deployment) []string {
		var out []string
		for _, r := range d.APIKeyRoutes {
			out = append(out, r.ID+" "+r.Label+" "+strings.Join(r.Scopes, ","))
		}
		for _, r := range d.SignedURLRoutes {
			out = append(out, r.ID+" "+r.Label)
		}
		for _, r := range d.WebhookRoutes {
			out = append(out, r.ID+" "+r.Label+" "+r.Provider)
		}
		return out
	}
	if a, b := labels(fromCaddyfile), labels(fromJSON); !slices.Equal(a, b) {
		t.Errorf("routes from the Caddyfile = %v\nwant (from deploy.json) %v", a, b)
	}
}

func TestReviewKeygen(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "seal")
	stdout, status := executeReview(t, "", "keygen", "--out", prefix)
	if status != reviewExitPass {
		t.Fatalf("keygen: exit status %d", status)
	}
	if strings.Contains(stdout, "PRIVATE KEY") {
		t.Error("keygen printed the private key")
	}
	if info, err := os.Stat(prefix + ".key"); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v, mode %v, want mode 0600", err, info)
	}
	if _, status := executeReview(t, "", "keygen", "--out", prefix); status != reviewExitFail {
		t.Errorf("keygen over existing files: exit status %d, want 1", status)
	}
}

func TestNarrowingDiffAndConfirm(t *testing.T) {
	plan := []review.KeyNarrowing{{KeyID: "k-inv",
		ScopesBefore: []string{"inventory:read", "inventory:write"}, ScopesAfter: []string{"inventory:read"},
		CIDRsBefore: []string{"10.0.0.0/8", "::1/128"}, CIDRsAfter: []string{"10.0.0.0/8"}}}
	diff := narrowingDiff("keys.json", plan)
	for _, want := range []string{"key 'k-inv':", "  - scope inventory:write", "  - allowed_cidr ::1/128", "scopes after: inventory:read"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}

	answers := []struct {
		in   string
		want bool
	}{{"y\n", true}, {"YES\n", true}, {"n\n", false}, {"\n", false}, {"", false}, {"yes please\n", false}}
	for _, a := range answers {
		if got := confirmed(strings.NewReader(a.in)); got != a.want {
			t.Errorf("confirmed(%q) = %v, want %v", a.in, got, a.want)
		}
	}
}
