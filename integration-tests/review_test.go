package integrationtests

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/internal/testredis"
	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
)

// reviewStream is the audit stream of the review deployment.
const reviewStream = "review:audit"

// reviewDeployment is the fixture of the review tests: a gateway with
// audit on, its keys, secrets and Redis, after the test's traffic went
// through it and the gateway stopped.
type reviewDeployment struct {
	redis      *testredis.Server
	client     *redis.Client
	configPath string
	keysFile   string
	keys       map[string]*testKey
	urlKey     urlKey
	hookSecret string
	chainKey   string
	signingPEM string // private key from 'review keygen'
	publicKey  string // path of the .pub file
	asOf       string // --as-of of every review run, so reports compare
}

var reviewEnvSeq atomic.Int64

// reviewSecretEnv exports secret under a new variable name in this
// process, which the gateway and review processes inherit.
func reviewSecretEnv(t *testing.T, prefix, secret string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", prefix, reviewEnvSeq.Add(1))
	if err := os.Setenv(name, secret); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Unsetenv(name) })
	return name
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// startReviewDeployment runs the gateway, sends the traffic, waits for
// its audit events in Redis and stops the gateway.
func startReviewDeployment(t *testing.T) *reviewDeployment {
	t.Helper()
	dep := &reviewDeployment{redis: testredis.Start(t), keys: map[string]*testKey{}}
	opts, _ := redis.ParseURL(dep.redis.URL())
	dep.client = redis.NewClient(opts)
	t.Cleanup(func() { dep.client.Close() })

	dep.chainKey = randomHex(t, 32)
	watchToken("review-chain-key", dep.chainKey)
	chainEnv := reviewSecretEnv(t, "REVIEW_IT_CHAIN_KEY", dep.chainKey)
	dep.hookSecret = "whsec_" + randomHex(t, 32)
	watchSecret("review stripe secret", strings.TrimPrefix(dep.hookSecret, "whsec_"))
	hookEnv := reviewSecretEnv(t, "REVIEW_IT_STRIPE", dep.hookSecret)
	dep.urlKey = newURLKey(t, "k"+time.Now().UTC().Format("20060102"))

	inv := newTestKey(t, "k-inv", "inventory:read", "inventory:write", "sales:read")
	sales := newTestKey(t, "k-sales", "sales:read")
	limited := newTestKey(t, "k-limited", "inventory:read")
	limited.Record.RateLimit = &policy.RateLimit{Rate: "1/m", Burst: 1}
	for _, k := range []*testKey{inv, sales, limited} {
		dep.keys[k.ID] = k
	}
	dep.keysFile = filepath.Join(t.TempDir(), "keys.json")
	writeKeysFile(t, dep.keysFile, inv, sales, limited)

	up := startUpstream(t)
	dead := "127.0.0.1:" + strconv.Itoa(freePort(t))
	routes := fmt.Sprintf(`handle /api/inventory/* {
		awra_api_key {
			scopes inventory:read
		}
		reverse_proxy {{.Upstream}}
	}
	handle /api/inventory-admin/* {
		awra_api_key inventory:write
		reverse_proxy {{.Upstream}}
	}
	handle /api/sales/* {
		awra_api_key sales:read
		reverse_proxy {{.Upstream}}
	}
	handle /api/broken/* {
		awra_api_key inventory:read
		reverse_proxy %s
	}
	handle_path /files/* {
		awra_signed_url {
			key %s {env.%s}
			max_ttl 1h
		}
		reverse_proxy {{.Upstream}}
	}
	handle /hooks/stripe {
		awra_webhook stripe {
			secret {env.%s}
			source_cidrs 127.0.0.0/8 ::1/128
		}
		reverse_proxy {{.Upstream}}
	}
	handle {
		respond 404
	}`, dead, dep.urlKey.ID, dep.urlKey.EnvName, hookEnv)
	gw := startGateway(t, gatewayConfig{
		KeysFile: dep.keysFile,
		AwraOptions: fmt.Sprintf("redis %s\naudit {\nstream %s\nspool_dir %s\nchain_key {env.%s}\ninstance review-gw\n}",
			dep.redis.URL(), reviewStream, filepath.Join(t.TempDir(), "spool"), chainEnv),
		Routes:   routes,
		Upstream: up,
	})
	dep.configPath = gw.configPath

	sent := sendReviewTraffic(t, gw, dep)
	waitForStream(t, dep.client, reviewStream, sent)
	gw.stop(t)

	dep.generateSigningKey(t)
	dep.asOf = time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	return dep
}

// sendReviewTraffic sends the period's requests and returns how many
// audit events they make.
func sendReviewTraffic(t *testing.T, gw *gateway, dep *reviewDeployment) int {
	t.Helper()
	c := clientFrom(t, "127.0.0.1")
	inv, sales, limited := dep.keys["k-inv"], dep.keys["k-sales"], dep.keys["k-limited"]
	expect := func(name string, resp response, status int) {
		t.Helper()
		if resp.Status != status {
			t.Fatalf("%s = %s, want %d", name, resp.describe(), status)
		}
	}

	for i := 0; i < 3; i++ {
		expect("k-inv GET /api/inventory/items", get(t, c, gw.url("/api/inventory/items"), bearer(inv.Token)), 200)
	}
	expect("k-inv GET /api/broken/x", get(t, c, gw.url("/api/broken/x"), bearer(inv.Token)), 502)
	expect("k-sales GET /api/sales/q1", get(t, c, gw.url("/api/sales/q1"), apiKey(sales.Token)), 200)
	expect("k-sales GET /api/inventory/items", get(t, c, gw.url("/api/inventory/items"), apiKey(sales.Token)), 403)
	expect("k-limited first", get(t, c, gw.url("/api/inventory/items"), bearer(limited.Token)), 200)
	expect("k-limited second", get(t, c, gw.url("/api/inventory/items"), bearer(limited.Token)), 429)
	expect("k-limited third", get(t, c, gw.url("/api/inventory/items"), bearer(limited.Token)), 429)
	expect("unknown token", get(t, c, gw.url("/api/inventory/items"), bearer(newToken(t, "k-ghost"))), 401)

	link := mintURL(t, dep.urlKey, http.MethodGet, gw.addr(), "/files/report.csv", time.Now().Add(10*time.Minute))
	expect("signed link", get(t, c, gw.url(link), nil), 200)
	expect("tampered link", get(t, c, gw.url(strings.Replace(link, "report.csv", "other.csv", 1)), nil), 403)

	body := []byte(`{"id":"evt_review_1","type":"charge.succeeded"}`)
	stripeSignature := func(stamp int64) string {
		mac := hmac.New(sha256.New, []byte(dep.hookSecret))
		mac.Write([]byte(strconv.FormatInt(stamp, 10) + "." + string(body)))
		return "t=" + strconv.FormatInt(stamp, 10) + ",v1=" + hex.EncodeToString(mac.Sum(nil))
	}
	now := time.Now().Unix()
	expect("stripe delivery", postReviewHook(t, c, gw.url("/hooks/stripe"), stripeSignature(now), body), 200)
	expect("stripe replay", postReviewHook(t, c, gw.url("/hooks/stripe"), stripeSignature(now), body), 409)
	expect("stripe retry of a delivered event", postReviewHook(t, c, gw.url("/hooks/stripe"), stripeSignature(now+1), body), 200)
	expect("stripe bad signature", postReviewHook(t, c, gw.url("/hooks/stripe"), "t="+strconv.FormatInt(now, 10)+",v1="+strings.Repeat("0", 64), body), 401)
	return 16
}

func postReviewHook(t *testing.T, c *http.Client, url, signature string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Stripe-Signature", signature)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// waitForStream waits until the stream holds at least n entries.
func waitForStream(t *testing.T, c *redis.Client, stream string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, _ := c.XLen(context.Background(), stream).Result()
		if got >= int64(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit stream holds %d entries after 15s, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// generateSigningKey runs 'review keygen' and keeps the key pair.
func (dep *reviewDeployment) generateSigningKey(t *testing.T) {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "review-seal")
	if out, errOut, code := runReviewCommand(t, nil, "", "keygen", "--out", prefix); code != 0 {
		t.Fatalf("review keygen: exit %d\n%s%s", code, out, errOut)
	}
	data, err := os.ReadFile(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	dep.signingPEM = string(data)
	dep.publicKey = prefix + ".pub"
}

// runReviewCommand runs 'awragate review args...' with env added to this
// process's environment and stdin as its input.
func runReviewCommand(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.binary, append([]string{"review"}, args...)...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("running awragate review: %v", err)
	}
	checkNoTokens(t, "the output of awragate review", []byte(out.String()+errOut.String()))
	return out.String(), errOut.String(), code
}

// review runs a sealed review of the deployment into a new directory
// and returns the directory, the summary and the exit status. extraEnv
// overrides the environment, and args add flags.
func (dep *reviewDeployment) review(t *testing.T, extraEnv []string, args ...string) (string, string, int) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "review")
	env := append([]string{"AWRA_AUDIT_CHAIN_KEY=" + dep.chainKey, "REVIEW_IT_SIGNING_KEY=" + dep.signingPEM}, extraEnv...)
	all := append([]string{"--config", dep.configPath, "--out", dir, "--signing-key-env", "REVIEW_IT_SIGNING_KEY", "--as-of", dep.asOf}, args...)
	out, errOut, code := runReviewCommand(t, env, "", all...)
	return dir, out + errOut, code
}

// reviewReport is the part of report.json the tests read.
type reviewReport struct {
	SchemaVersion int    `json:"schema_version"`
	Result        string `json:"result"`
	Gates         []struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Findings []struct {
			Code     string `json:"code"`
			Severity string `json:"severity"`
		} `json:"findings"`
	} `json:"gates"`
	LeastPrivilege struct {
		Keys []struct {
			KeyID             string   `json:"key_id"`
			Exercised         []string `json:"exercised_scopes"`
			UnusedScopes      []string `json:"unused_scopes"`
			UnusedWriteScopes []string `json:"unused_write_scopes"`
			UnusedNetworks    []string `json:"unused_networks"`
		} `json:"keys"`
		Plan []struct {
			KeyID       string   `json:"key_id"`
			ScopesAfter []string `json:"scopes_after"`
		} `json:"plan"`
	} `json:"least_privilege"`
	Health struct {
		Routes []struct {
			Route       string `json:"route"`
			Module      string `json:"module"`
			SignedDelay *struct {
				Count int   `json:"count"`
				MaxMS int64 `json:"max_ms"`
			} `json:"signed_delay"`
		} `json:"routes"`
	} `json:"health"`
}

func readReviewReport(t *testing.T, dir string) reviewReport {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatalf("reading report.json: %v", err)
	}
	var r reviewReport
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("decoding report.json: %v", err)
	}
	return r
}

// failing returns the ids of the failed gates and the fail codes behind
// them.
func (r reviewReport) failing() (gates, codes []string) {
	for _, g := range r.Gates {
		if g.Status != "PASS" {
			gates = append(gates, g.ID)
		}
		for _, f := range g.Findings {
			if f.Severity == "fail" {
				codes = append(codes, f.Code)
			}
		}
	}
	return gates, codes
}

// TestReview runs the review against a deployment the test drove. The
// baseline passes every gate, and each planted fault fails its gate by
// name. The least-privilege narrowing is exactly the observed use, and
// the seal catches every changed byte. The output is deterministic and
// contains no secret.
func TestReview(t *testing.T) {
	t.Parallel()
	dep := startReviewDeployment(t)

	baseline, summary, code := dep.review(t, nil)
	if code != 0 {
		t.Fatalf("baseline review: exit %d, want 0\n%s\n%s", code, redact(summary), redact(readFileOrEmpty(filepath.Join(baseline, "report.md"))))
	}
	rep := readReviewReport(t, baseline)
	if gates, codes := rep.failing(); len(gates) != 0 || rep.Result != "PASS" || rep.SchemaVersion != 1 {
		t.Fatalf("baseline: result %s, failed gates %v (%v), schema %d; want PASS, none, 1", rep.Result, gates, codes, rep.SchemaVersion)
	}

	t.Run("webhook signed delay", func(t *testing.T) {
		found := false
		for _, r := range rep.Health.Routes {
			if r.Module != "webhook" || r.SignedDelay == nil {
				continue
			}
			found = true
			// The test signs Stripe deliveries with the current time, so the
			// delay is the time to reach the gateway: well under a minute.
			if r.SignedDelay.Count < 1 || r.SignedDelay.MaxMS > 60_000 || r.SignedDelay.MaxMS < -60_000 {
				t.Errorf("route %s: signed delay = %+v, want at least one delivery within a minute", r.Route, *r.SignedDelay)
			}
		}
		if !found {
			t.Error("no webhook route reports a signed delay; want the Stripe route to")
		}
	})

	t.Run("deterministic", func(t *testing.T) {
		again, _, code := dep.review(t, nil)
		if code != 0 {
			t.Fatalf("second review: exit %d", code)
		}
		for _, f := range []string{"report.md", "report.json", "evidence/keys.json", "evidence/usage.json", "evidence/audit-export.jsonl",
			"evidence/audit-verification.json", "evidence/least-privilege.json", "evidence/signed-url-routes.json"} {
			a := withoutGeneratedAt(readFileOrEmpty(filepath.Join(baseline, f)))
			b := withoutGeneratedAt(readFileOrEmpty(filepath.Join(again, f)))
			if a != b || a == "" {
				t.Errorf("%s differs between two reviews of the same inputs (or is empty)", f)
			}
		}
	})

	t.Run("no secret in the package", func(t *testing.T) {
		pemBody := strings.Split(strings.TrimSpace(dep.signingPEM), "\n")[1]
		secrets := map[string]string{
			"chain key": dep.chainKey, "signed-URL secret": string(dep.urlKey.Secret),
			"webhook secret": dep.hookSecret, "signing key": pemBody,
		}
		for id, k := range dep.keys {
			secrets["token of "+id] = k.Token
			secrets["token hash of "+id] = k.Record.Secrets[0].Hash
		}
		err := filepath.WalkDir(baseline, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			checkNoTokens(t, p, data)
			for name, s := range secrets {
				if bytes.Contains(data, []byte(s)) {
					t.Errorf("%s contains the %s", p, name)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("health", func(t *testing.T) {
		md := readFileOrEmpty(filepath.Join(baseline, "report.md"))
		for _, want := range []string{
			"| srv0 path /api/broken/\\* | api\\_key | 1 | 0 |  | 1 |",
			"scope\\_missing 1",
			"rate\\_limited 2",
			"`k-limited` 2",
			"| webhook | 2 | 2 | signature\\_invalid 1, webhook\\_replayed 1 | 0 | 1 / 1 | ",
			"Webhook delay between the provider's signed timestamp and arrival: per webhook route",
		} {
			if !strings.Contains(md, want) {
				t.Errorf("report.md lacks %q", want)
			}
		}
	})

	t.Run("least privilege findings", func(t *testing.T) {
		var found bool
		for _, k := range rep.LeastPrivilege.Keys {
			if k.KeyID != "k-inv" {
				continue
			}
			found = true
			if !slices.Equal(k.Exercised, []string{"inventory:read"}) || !slices.Equal(k.UnusedScopes, []string{"sales:read"}) ||
				!slices.Equal(k.UnusedWriteScopes, []string{"inventory:write"}) || !slices.Equal(k.UnusedNetworks, []string{"::1/128"}) {
				t.Errorf("k-inv = %+v, want exercised [inventory:read], unused [sales:read], unused write [inventory:write], unused networks [::1/128]", k)
			}
		}
		if !found {
			t.Error("report has no least-privilege entry for k-inv")
		}
	})

	t.Run("apply least privilege", func(t *testing.T) {
		testApplyLeastPrivilege(t, dep)
	})

	t.Run("seal", func(t *testing.T) {
		testReviewSeal(t, dep, baseline)
	})

	t.Run("planted faults", func(t *testing.T) {
		testPlantedFaults(t, dep)
	})
}

var generatedAtLine = regexp.MustCompile(`(?m)^.*(generated_at|Generated at).*$`)

func withoutGeneratedAt(s string) string { return generatedAtLine.ReplaceAllString(s, "") }

func testApplyLeastPrivilege(t *testing.T, dep *reviewDeployment) {
	stream := copyReviewStream(t, dep, "lp")
	keysCopy := filepath.Join(t.TempDir(), "keys.json")
	data, _ := os.ReadFile(dep.keysFile)
	os.WriteFile(keysCopy, data, 0o600)

	// Declined: the diff is shown and nothing changes.
	env := []string{"AWRA_AUDIT_CHAIN_KEY=" + dep.chainKey}
	out, _, code := runReviewCommand(t, env, "n\n", "--config", dep.configPath, "--out", filepath.Join(t.TempDir(), "r"),
		"--stream", stream, "--keys-file", keysCopy, "--as-of", dep.asOf, "--apply-least-privilege")
	if !strings.Contains(out, "key 'k-inv':\n  - scope inventory:write\n  - scope sales:read\n  - allowed_cidr ::1/128") {
		t.Errorf("declined run: output lacks the k-inv diff:\n%s", out)
	}
	if after, _ := os.ReadFile(keysCopy); !bytes.Equal(after, data) {
		t.Error("declined run changed the keys file")
	}
	if code != 1 { // unsealed: the archive gate fails
		t.Errorf("declined run without a signing key: exit %d, want 1", code)
	}

	// Confirmed with --yes.
	out, errOut, code := runReviewCommand(t, env, "", "--config", dep.configPath, "--out", filepath.Join(t.TempDir(), "r"),
		"--stream", stream, "--keys-file", keysCopy, "--as-of", dep.asOf, "--apply-least-privilege", "--yes")
	if !strings.Contains(out, "least privilege: narrowed 3 keys") || !strings.Contains(out, "recorded 3 key_narrowed events") {
		t.Fatalf("apply: exit %d, output:\n%s%s", code, out, redact(errOut))
	}
	f, err := policy.ParseKeysFile(readFileBytes(t, keysCopy))
	if err != nil {
		t.Fatalf("narrowed keys file: %v", err)
	}
	for _, k := range f.Keys {
		if k.ID != "k-inv" {
			continue
		}
		if !slices.Equal(k.Scopes, []string{"inventory:read"}) || !slices.Equal(k.AllowedCIDRs, []string{"127.0.0.0/8"}) {
			t.Errorf("narrowed k-inv: scopes %v, networks %v; want exactly [inventory:read] and [127.0.0.0/8]", k.Scopes, k.AllowedCIDRs)
		}
		if len(k.Secrets) != 1 || k.Secrets[0].Hash != dep.keys["k-inv"].Record.Secrets[0].Hash {
			t.Error("narrowing changed k-inv's token hash")
		}
	}

	// The key_narrowed events are in the stream, chained under their own
	// instance, and the next review verifies them.
	msgs, err := dep.client.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var narrowed []string
	for _, m := range msgs {
		if m.Values["reason"] == "key_narrowed" && m.Values["module"] == "admin" {
			narrowed = append(narrowed, fmt.Sprint(m.Values["key_id"]))
		}
	}
	slices.Sort(narrowed)
	if !slices.Equal(narrowed, []string{"k-inv", "k-limited", "k-sales"}) {
		t.Errorf("key_narrowed events for %v, want [k-inv k-limited k-sales]", narrowed)
	}
	dir, summary, code := dep.review(t, nil, "--stream", stream, "--keys-file", keysCopy)
	if rep := readReviewReport(t, dir); code != 0 || len(rep.LeastPrivilege.Plan) != 0 {
		t.Errorf("review after narrowing: exit %d, plan %v; want 0 and no plan\n%s", code, rep.LeastPrivilege.Plan, redact(summary))
	}
}

func readFileBytes(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// copyReviewStream copies the deployment's stream and watermarks to a
// new stream key, so a test can change it alone.
func copyReviewStream(t *testing.T, dep *reviewDeployment, name string) string {
	t.Helper()
	ctx := context.Background()
	stream := reviewStream + ":" + name
	for _, suffix := range []string{"", audit.WatermarkSuffix} {
		if err := dep.client.Copy(ctx, reviewStream+suffix, stream+suffix, 0, false).Err(); err != nil {
			t.Fatalf("COPY %s: %v", reviewStream+suffix, err)
		}
	}
	return stream
}

func testReviewSeal(t *testing.T, dep *reviewDeployment, sealed string) {
	out, _, code := runReviewCommand(t, nil, "", "verify", sealed, "--public-key", dep.publicKey)
	if code != 0 || !strings.Contains(out, "verified: 13 files") {
		t.Fatalf("verify of the untouched package: exit %d, output %q; want 0 and 13 files", code, out)
	}

	var files []string
	filepath.WalkDir(sealed, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(sealed, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "copy")
			if err := os.CopyFS(dir, os.DirFS(sealed)); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, filepath.FromSlash(f))
			data := readFileBytes(t, p)
			if len(data) == 0 {
				data = []byte("x") // an empty file grows by a byte
			} else {
				data[len(data)/2] ^= 0x20
			}
			os.Chmod(p, 0o600)
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			out, _, code := runReviewCommand(t, nil, "", "verify", dir, "--public-key", dep.publicKey)
			named := f
			if f == "MANIFEST.json.sig" {
				named = "MANIFEST.json" // both names appear when the signature breaks
			}
			if code != 1 || !strings.Contains(out, named) {
				t.Errorf("verify after changing a byte of %s: exit %d, output %q; want 1 naming it", f, code, out)
			}
		})
	}

	t.Run("extra file", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "copy")
		os.CopyFS(dir, os.DirFS(sealed))
		os.WriteFile(filepath.Join(dir, "evidence", "note.txt"), []byte("added"), 0o600)
		if out, _, code := runReviewCommand(t, nil, "", "verify", dir, "--public-key", dep.publicKey); code != 1 || !strings.Contains(out, "evidence/note.txt: extra") {
			t.Errorf("verify with an extra file: exit %d, output %q", code, out)
		}
	})
}

// testPlantedFaults changes one thing at a time and checks that exactly
// the expected gate fails, that report.md, report.json and the summary
// name the reason, and that the exit status is 1.
func testPlantedFaults(t *testing.T, dep *reviewDeployment) {
	withKey := func(edit func(k *testKey)) []string {
		k := newTestKey(t, "k-planted", "inventory:read")
		edit(k)
		path := filepath.Join(t.TempDir(), "keys.json")
		writeKeysFile(t, path, dep.keys["k-inv"], dep.keys["k-sales"], dep.keys["k-limited"], k)
		return []string{"--keys-file", path}
	}
	faults := []struct {
		name string
		env  []string
		args func(t *testing.T) []string
		gate string
		code string
	}{
		{"expired active key", nil, func(t *testing.T) []string {
			return withKey(func(k *testKey) {
				expired := time.Now().Add(-time.Hour).UTC()
				k.Record.ExpiresAt = &expired
			})
		}, "key_scopes_audited", "key_expired_active"},
		{"wildcard scope", nil, func(t *testing.T) []string {
			return withKey(func(k *testKey) { k.Record.Scopes = []string{"inventory:*"} })
		}, "key_scopes_audited", "key_scope_wildcard"},
		{"every-address network", nil, func(t *testing.T) []string {
			return withKey(func(k *testKey) { k.Record.AllowedCIDRs = []string{"127.0.0.0/8", "0.0.0.0/0"} })
		}, "ip_limits_active", "key_network_every_address"},
		{"weak signing secret", []string{dep.urlKey.EnvName + "=" + "0123456789abcdef"}, func(t *testing.T) []string { return nil },
			"url_signatures_expire", "url_secret_too_short"},
		{"trusted_proxies_strict missing", nil, func(t *testing.T) []string {
			cfg := readFileOrEmpty(dep.configPath)
			lax := strings.Replace(cfg, "\t\ttrusted_proxies_strict\n", "", 1)
			if lax == cfg {
				t.Fatal("the gateway configuration has no trusted_proxies_strict line to remove")
			}
			path := filepath.Join(t.TempDir(), "Caddyfile")
			os.WriteFile(path, []byte(lax), 0o600)
			return []string{"--config", path}
		}, "ip_limits_active", "trusted_proxies_strict_off"},
		{"deleted audit entry", nil, func(t *testing.T) []string {
			stream := copyReviewStream(t, dep, "xdel")
			msgs, _ := dep.client.XRange(context.Background(), stream, "-", "+").Result()
			if err := dep.client.XDel(context.Background(), stream, msgs[len(msgs)/2].ID).Err(); err != nil {
				t.Fatal(err)
			}
			return []string{"--stream", stream}
		}, "audit_package_complete", "audit_entry_deleted"},
		{"undeclared gap", nil, func(t *testing.T) []string {
			stream := copyReviewStream(t, dep, "gap")
			plantGap(t, dep, stream)
			return []string{"--stream", stream}
		}, "audit_package_complete", "audit_gap_undeclared"},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			args := f.args(t)
			// A later --config replaces the deployment's.
			dir, summary, code := dep.review(t, f.env, args...)
			if code != 1 {
				t.Errorf("exit status %d, want 1\n%s", code, redact(summary))
			}
			gates, codes := readReviewReport(t, dir).failing()
			if !slices.Equal(gates, []string{f.gate}) || !slices.Contains(codes, f.code) {
				t.Errorf("failed gates %v with codes %v, want only %s with %s", gates, codes, f.gate, f.code)
			}
			if !strings.Contains(readFileOrEmpty(filepath.Join(dir, "report.md")), "`"+f.code+"`") {
				t.Errorf("report.md does not name %s", f.code)
			}
			if !strings.Contains(summary, f.code) {
				t.Errorf("summary does not name %s:\n%s", f.code, redact(summary))
			}
			if f.code == "audit_gap_undeclared" && slices.Contains(codes, "audit_entry_deleted") {
				t.Error("a gap that was never in the stream is reported as a deletion")
			}
		})
	}
}

// plantGap adds to stream, with the deployment's chain key, an instance
// whose seqs 3 and 4 never reached the stream and that no events_lost
// event declares, as a gateway losing events silently would leave it.
func plantGap(t *testing.T, dep *reviewDeployment, stream string) {
	t.Helper()
	ctx := context.Background()
	prev := ""
	for seq := uint64(1); seq <= 6; seq++ {
		ev := &audit.Event{V: audit.SchemaVersion, TS: time.Now().UTC(), Instance: "review-lossy", Seq: seq,
			Module: audit.ModuleAPIKey, Decision: audit.DecisionAllow, Status: 200, PrevHash: prev}
		ev.Hash = audit.ComputeHash([]byte(dep.chainKey), ev)
		prev = ev.Hash
		if seq == 3 || seq == 4 {
			continue
		}
		if err := dep.client.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: ev.Fields()}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := dep.client.HSet(ctx, stream+audit.WatermarkSuffix, "review-lossy", "6").Err(); err != nil {
		t.Fatal(err)
	}
}
