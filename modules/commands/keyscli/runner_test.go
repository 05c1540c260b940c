package keyscli

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/keystore"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// harness runs commands on a keys file in a fresh directory at a fixed
// time, capturing both outputs.
type harness struct {
	file           string
	now            time.Time
	env            map[string]string
	stdout, stderr bytes.Buffer
	tokens         []string // every token seen, to check they leak nowhere
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return &harness{
		file: filepath.Join(t.TempDir(), "keys.json"),
		now:  t0,
		env:  map[string]string{},
	}
}

func (h *harness) runner() *Runner {
	h.stdout.Reset()
	h.stderr.Reset()
	return &Runner{
		Stdout: &h.stdout,
		Stderr: &h.stderr,
		Getenv: func(k string) string { return h.env[k] },
		Now:    func() time.Time { return h.now },
	}
}

func (h *harness) createArgs(id string) CreateArgs {
	return CreateArgs{
		File:      h.file,
		ID:        id,
		Scopes:    []string{"inventory:read"},
		CIDRs:     []string{"10.0.0.0/8"},
		ExpiresIn: "90d",
	}
}

// create runs the create command and returns the token it printed.
func (h *harness) create(t *testing.T, a CreateArgs) string {
	t.Helper()
	if err := h.runner().Create(a); err != nil {
		t.Fatalf("Create(%s) error: %v", a.ID, err)
	}
	return h.tokenLine(t)
}

// tokenLine checks that standard output is exactly one token line and
// returns the token.
func (h *harness) tokenLine(t *testing.T) string {
	t.Helper()
	out := h.stdout.String()
	token, ok := strings.CutSuffix(out, "\n")
	if !ok || strings.Contains(token, "\n") {
		t.Fatalf("stdout has %d lines, want exactly one token line", strings.Count(out, "\n"))
	}
	if _, _, ok := policy.ParseToken(token); !ok {
		t.Fatal("stdout is not a valid token")
	}
	h.tokens = append(h.tokens, token)
	return token
}

// checkNoSecrets fails if out contains a token seen so far, the secret
// part of one, or a stored hash.
func (h *harness) checkNoSecrets(t *testing.T, where, out string) {
	t.Helper()
	if strings.Contains(out, policy.HashPrefix) {
		t.Errorf("%s contains a token hash", where)
	}
	for _, token := range h.tokens {
		_, secret, _ := policy.ParseToken(token)
		if strings.Contains(out, token) || strings.Contains(out, secret) {
			t.Errorf("%s contains a token", where)
		}
	}
}

func (h *harness) load(t *testing.T, id string) *policy.KeyRecord {
	t.Helper()
	k, err := (&keystore.Store{Path: h.file}).Get(id)
	if err != nil {
		t.Fatalf("Get(%s) error: %v", id, err)
	}
	return k
}

func matchesHash(token, stored string) bool {
	sum, err := policy.ParseHash(stored)
	got := policy.HashToken(token)
	return err == nil && len(sum) == len(got) && subtle.ConstantTimeCompare(sum[:], got[:]) == 1
}

func TestCreatePrintsOnlyToken(t *testing.T) {
	h := newHarness(t)
	token := h.create(t, h.createArgs("inventory-sync"))

	if id, _, _ := policy.ParseToken(token); id != "inventory-sync" {
		t.Errorf("token key id = %q, want inventory-sync", id)
	}
	k := h.load(t, "inventory-sync")
	if len(k.Secrets) != 1 || !matchesHash(token, k.Secrets[0].Hash) {
		t.Error("printed token does not match the stored hash")
	}

	stderr := h.stderr.String()
	for _, want := range []string{"created key 'inventory-sync'", "2026-04-02T03:04:05Z", "shown only once"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr = %q, want it to contain %q", stderr, want)
		}
	}
	h.checkNoSecrets(t, "stderr", stderr)
}

func TestCreateFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*CreateArgs)
		want []string
	}{
		{"missing id", func(a *CreateArgs) { a.ID = "" }, []string{"missing --id", "--id inventory-sync"}},
		{"invalid id", func(a *CreateArgs) { a.ID = "Inventory_Sync" }, []string{"--id: ", "'Inventory_Sync'", "a-z, 0-9"}},
		{"missing scope", func(a *CreateArgs) { a.Scopes = nil }, []string{"missing --scope", "--scope inventory:read"}},
		{"scope without action", func(a *CreateArgs) { a.Scopes = []string{"inventory"} }, []string{"--scope: ", "'inventory'", "resource:action", "for example inventory:read"}},
		{"second scope invalid", func(a *CreateArgs) { a.Scopes = []string{"inventory:read", "sales:write:all"} }, []string{"--scope: ", "'sales:write:all'"}},
		{"missing cidr", func(a *CreateArgs) { a.CIDRs = nil }, []string{"missing --cidr", "--cidr 0.0.0.0/0 --cidr ::/0"}},
		{"invalid cidr", func(a *CreateArgs) { a.CIDRs = []string{"10.0.0.0/33"} }, []string{"--cidr: ", "'10.0.0.0/33'", "203.0.113.0/24"}},
		{"cidr with host bits", func(a *CreateArgs) { a.CIDRs = []string{"10.1.2.3/8"} }, []string{"--cidr: ", "'10.1.2.3/8'", "10.0.0.0/8"}},
		{"zero expiry", func(a *CreateArgs) { a.ExpiresIn = "0d" }, []string{"--expires-in: ", "'0d'", "every key expires", "90d"}},
		{"zero duration expiry", func(a *CreateArgs) { a.ExpiresIn = "0" }, []string{"--expires-in: ", "'0'"}},
		{"negative expiry", func(a *CreateArgs) { a.ExpiresIn = "-5d" }, []string{"--expires-in: ", "'-5d'", "positive"}},
		{"fractional days", func(a *CreateArgs) { a.ExpiresIn = "1.5d" }, []string{"--expires-in: ", "'1.5d'", "36h"}},
		{"expiry too long", func(a *CreateArgs) { a.ExpiresIn = "3651d" }, []string{"--expires-in: ", "'3651d'", "at most 3650d"}},
		{"empty expiry", func(a *CreateArgs) { a.ExpiresIn = "" }, []string{"--expires-in: ", "''"}},
		{"bad rate", func(a *CreateArgs) { a.Rate = "fast" }, []string{"--rate: ", "'fast'", "20/s"}},
		{"burst without rate", func(a *CreateArgs) { a.Burst = "10" }, []string{"--burst '10' needs --rate"}},
		{"zero burst", func(a *CreateArgs) { a.Rate, a.Burst = "20/s", "0" }, []string{"--burst: ", "'0'"}},
		{"owner with newline", func(a *CreateArgs) { a.Owner = "team\nroot" }, []string{"--owner: ", "U+000A"}},
		{"description with escape", func(a *CreateArgs) { a.Description = "\x1b]0;x\x07" }, []string{"--description: ", "U+001B"}},
		{"ip exception with tab", func(a *CreateArgs) { a.IPException = "a\tb" }, []string{"--ip-exception: ", "U+0009"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			a := h.createArgs("a")
			tt.edit(&a)

			err := h.runner().Create(a)
			if err == nil {
				t.Fatal("Create() = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Create() error = %q, want it to contain %q", err, w)
				}
			}
			if h.stdout.Len() != 0 {
				t.Errorf("stdout = %q after an error, want nothing", h.stdout.String())
			}
			if _, err := os.Stat(h.file); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("keys file written after an error: stat = %v", err)
			}
		})
	}
}

func TestCreateExistingID(t *testing.T) {
	h := newHarness(t)
	h.create(t, h.createArgs("a"))
	err := h.runner().Create(h.createArgs("a"))
	if !errors.Is(err, keystore.ErrKeyExists) || !strings.Contains(err.Error(), "choose another id") {
		t.Errorf("Create() of an existing id = %v, want ErrKeyExists with the fix", err)
	}
	if h.stdout.Len() != 0 {
		t.Error("stdout is not empty after a rejected create")
	}
}

func TestCreateWarnings(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*CreateArgs)
		want     []string
		dontWant []string
	}{
		{"narrow", func(*CreateArgs) {}, nil, []string{"warning"}},
		{"wildcard scope", func(a *CreateArgs) { a.Scopes = []string{"inventory:*"} }, []string{"warning: scope 'inventory:*'"}, nil},
		{"every address", func(a *CreateArgs) { a.CIDRs = []string{"0.0.0.0/0", "::/0"} },
			[]string{"warning: network '0.0.0.0/0'", "warning: network '::/0'", "--ip-exception"}, nil},
		{"every address with reason", func(a *CreateArgs) {
			a.CIDRs = []string{"0.0.0.0/0", "::/0"}
			a.IPException = "mobile clients"
		}, nil, []string{"warning"}},
		{"default burst", func(a *CreateArgs) { a.Rate = "20/s" }, []string{"burst of 20"}, []string{"warning"}},
		{"explicit burst", func(a *CreateArgs) { a.Rate, a.Burst = "20/s", "5" }, nil, []string{"burst of"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			a := h.createArgs("a")
			tt.edit(&a)
			h.create(t, a)
			stderr := h.stderr.String()
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr = %q, want it to contain %q", stderr, w)
				}
			}
			for _, w := range tt.dontWant {
				if strings.Contains(stderr, w) {
					t.Errorf("stderr = %q, want no %q", stderr, w)
				}
			}
		})
	}
}

func TestKeysFileFromEnvironment(t *testing.T) {
	h := newHarness(t)
	a := h.createArgs("a")
	a.File = ""

	err := h.runner().Create(a)
	if err == nil || !strings.Contains(err.Error(), "missing --file") || !strings.Contains(err.Error(), FileEnv) {
		t.Errorf("Create() without --file or %s = %v, want an error naming both", FileEnv, err)
	}

	h.env[FileEnv] = h.file
	h.create(t, a)
	h.load(t, "a")

	// --file wins over the environment.
	other := filepath.Join(filepath.Dir(h.file), "other.json")
	a.File, a.ID = other, "b"
	h.create(t, a)
	if _, err := (&keystore.Store{Path: other}).Get("b"); err != nil {
		t.Errorf("key b is not in the --file keys file: %v", err)
	}
}

func TestRotatePrintsOnlyToken(t *testing.T) {
	h := newHarness(t)
	old := h.create(t, h.createArgs("a"))
	h.now = t0.Add(time.Hour)

	if err := h.runner().Rotate(h.file, "a", "24h"); err != nil {
		t.Fatalf("Rotate() error: %v", err)
	}
	token := h.tokenLine(t)
	if token == old {
		t.Fatal("Rotate() printed the old token")
	}
	k := h.load(t, "a")
	if len(k.Secrets) != 2 || !matchesHash(old, k.Secrets[0].Hash) || !matchesHash(token, k.Secrets[1].Hash) {
		t.Fatal("keys file does not hold the old and the new token's hashes")
	}
	if want := t0.Add(25 * time.Hour); k.Secrets[0].NotAfter == nil || !k.Secrets[0].NotAfter.Equal(want) {
		t.Errorf("old token not_after = %v, want %s", k.Secrets[0].NotAfter, want)
	}
	stderr := h.stderr.String()
	if !strings.Contains(stderr, "until 2026-01-03T04:04:05Z") {
		t.Errorf("stderr = %q, want the end of the grace period", stderr)
	}
	h.checkNoSecrets(t, "stderr", stderr)
}

func TestRotateZeroGrace(t *testing.T) {
	h := newHarness(t)
	h.create(t, h.createArgs("a"))
	if err := h.runner().Rotate(h.file, "a", "0"); err != nil {
		t.Fatal(err)
	}
	token := h.tokenLine(t)
	if k := h.load(t, "a"); len(k.Secrets) != 1 || !matchesHash(token, k.Secrets[0].Hash) {
		t.Error("after rotate --grace 0 the file holds more than the new token")
	}
	if !strings.Contains(h.stderr.String(), "old token stops working") {
		t.Errorf("stderr = %q, want a note that the old token stops", h.stderr.String())
	}
}

func TestRotateErrors(t *testing.T) {
	tests := []struct {
		name, id, grace string
		want            []string
	}{
		{"negative grace", "a", "-1h", []string{"--grace: ", "'-1h'", "positive"}},
		{"grace too long", "a", "31d", []string{"--grace: ", "'31d'", "at most 30d"}},
		{"bad grace", "a", "soon", []string{"--grace: ", "'soon'"}},
		{"unknown key", "b", "24h", []string{"key 'b' not found", "keys list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.create(t, h.createArgs("a"))
			err := h.runner().Rotate(h.file, tt.id, tt.grace)
			if err == nil {
				t.Fatal("Rotate() = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Rotate() error = %q, want it to contain %q", err, w)
				}
			}
			if h.stdout.Len() != 0 {
				t.Error("stdout is not empty after a rejected rotation")
			}
		})
	}
}

func TestStatusCommands(t *testing.T) {
	h := newHarness(t)
	h.create(t, h.createArgs("a"))
	r := func() *Runner { return h.runner() }

	steps := []struct {
		name string
		run  func() error
		note string // expected on stderr
		err  string // expected error, instead of a note
	}{
		{"resume active", func() error { return r().Resume(h.file, "a") }, "already active; nothing changed", ""},
		{"suspend", func() error { return r().Suspend(h.file, "a") }, "suspended key 'a'; resume it with 'awragate keys resume a'", ""},
		{"suspend again", func() error { return r().Suspend(h.file, "a") }, "already suspended; nothing changed", ""},
		{"resume", func() error { return r().Resume(h.file, "a") }, "resumed key 'a'", ""},
		{"revoke", func() error { return r().Revoke(h.file, "a") }, "revoked key 'a'", ""},
		{"revoke again", func() error { return r().Revoke(h.file, "a") }, "already revoked; nothing changed", ""},
		{"resume revoked", func() error { return r().Resume(h.file, "a") }, "", "revocation is final"},
		{"suspend revoked", func() error { return r().Suspend(h.file, "a") }, "", "revocation is final"},
		{"rotate revoked", func() error { return r().Rotate(h.file, "a", "1h") }, "", "revocation is final"},
		{"revoke unknown", func() error { return r().Revoke(h.file, "zz") }, "", "key 'zz' not found"},
	}
	for i, step := range steps {
		err := step.run()
		if step.err != "" {
			if err == nil || !strings.Contains(err.Error(), step.err) {
				t.Errorf("step %d (%s): error = %v, want one containing %q", i, step.name, err, step.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d (%s): error = %v", i, step.name, err)
		}
		if got := h.stderr.String(); !strings.Contains(got, step.note) {
			t.Errorf("step %d (%s): stderr = %q, want %q", i, step.name, got, step.note)
		}
		if h.stdout.Len() != 0 {
			t.Errorf("step %d (%s): stdout = %q, want nothing", i, step.name, h.stdout.String())
		}
	}
}

func TestResumeExpiredKeyWarns(t *testing.T) {
	h := newHarness(t)
	a := h.createArgs("a")
	a.ExpiresIn = "1h"
	h.create(t, a)
	if err := h.runner().Suspend(h.file, "a"); err != nil {
		t.Fatal(err)
	}
	h.now = t0.Add(2 * time.Hour)
	if err := h.runner().Resume(h.file, "a"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.stderr.String(), "warning: key 'a' expired at 2026-01-02T04:04:05Z") {
		t.Errorf("stderr = %q, want an expiry warning", h.stderr.String())
	}
}

func TestCommandsOnMissingFile(t *testing.T) {
	h := newHarness(t)
	runs := map[string]func(*Runner) error{
		"list":    func(r *Runner) error { return r.List(h.file, false) },
		"show":    func(r *Runner) error { return r.Show(h.file, "a", false) },
		"rotate":  func(r *Runner) error { return r.Rotate(h.file, "a", "1h") },
		"revoke":  func(r *Runner) error { return r.Revoke(h.file, "a") },
		"suspend": func(r *Runner) error { return r.Suspend(h.file, "a") },
		"resume":  func(r *Runner) error { return r.Resume(h.file, "a") },
	}
	for name, run := range runs {
		t.Run(name, func(t *testing.T) {
			err := run(h.runner())
			if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "awragate keys create --file") {
				t.Errorf("%s on a missing file = %v, want a not-exist error that says how to create the file", name, err)
			}
			if _, err := os.Stat(h.file); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s created the keys file", name)
			}
		})
	}
}

func TestKeyIDArg(t *testing.T) {
	tests := []struct {
		args []string
		id   string
		want string
	}{
		{[]string{"a"}, "a", ""},
		{nil, "", "missing key id: write 'awragate keys show ID'"},
		{[]string{"a", "b"}, "", "too many arguments"},
	}
	for _, tt := range tests {
		id, err := KeyIDArg("show", tt.args)
		if id != tt.id || (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("KeyIDArg(show, %q) = %q, %v; want %q, error containing %q", tt.args, id, err, tt.id, tt.want)
		}
	}
}

func TestListTable(t *testing.T) {
	h := newHarness(t)
	b := h.createArgs("b-key")
	b.Owner = "sales team"
	b.Scopes = []string{"sales:read", "sales:write"}
	h.create(t, b)
	a := h.createArgs("a-key")
	a.ExpiresIn = "1h"
	h.create(t, a)
	h.now = t0.Add(30 * time.Minute)
	if err := h.runner().Rotate(h.file, "b-key", "1h"); err != nil {
		t.Fatal(err)
	}
	h.tokenLine(t)
	h.now = t0.Add(2 * time.Hour)

	if err := h.runner().List(h.file, false); err != nil {
		t.Fatalf("List() error: %v", err)
	}
	out := h.stdout.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("list printed %d lines, want a header and 2 keys:\n%s", len(lines), out)
	}
	want := [][]string{
		{"ID", "STATUS", "OWNER", "SCOPES", "CIDRS", "EXPIRES", "LAST", "ROTATION"},
		{"a-key", "expired", "-", "inventory:read", "10.0.0.0/8", "2026-01-02T04:04:05Z", "-"},
		{"b-key", "active", "sales", "team", "sales:read,sales:write", "10.0.0.0/8", "2026-04-02T03:04:05Z", "2026-01-02T03:34:05Z"},
	}
	for i, w := range want {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("line %d = %q, want fields %q", i, lines[i], w)
		}
	}
	h.checkNoSecrets(t, "list output", out)
}

func TestListEmptyFile(t *testing.T) {
	h := newHarness(t)
	if err := os.WriteFile(h.file, []byte(`{"version":1,"keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.runner().List(h.file, false); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(h.stdout.String(), "\n"); got != 1 {
		t.Errorf("list of an empty file printed %d lines, want the header only", got)
	}
	if !strings.Contains(h.stderr.String(), "no keys in") {
		t.Errorf("stderr = %q, want a note that the file has no keys", h.stderr.String())
	}
}

func TestListJSON(t *testing.T) {
	h := newHarness(t)
	h.create(t, h.createArgs("b"))
	h.create(t, h.createArgs("a"))
	h.now = t0.Add(time.Minute)
	if err := h.runner().Rotate(h.file, "a", "1h"); err != nil {
		t.Fatal(err)
	}
	h.tokenLine(t)

	if err := h.runner().List(h.file, true); err != nil {
		t.Fatalf("List(json) error: %v", err)
	}
	out := h.stdout.String()
	h.checkNoSecrets(t, "list --json output", out)
	if strings.Contains(out, `"hash"`) {
		t.Error(`list --json output has a "hash" member`)
	}

	var views []map[string]any
	if err := json.Unmarshal([]byte(out), &views); err != nil {
		t.Fatalf("list --json output is not a JSON array: %v", err)
	}
	if len(views) != 2 || views[0]["id"] != "a" || views[1]["id"] != "b" {
		t.Fatalf("list --json ids = %v, want a and b in order", views)
	}
	if secrets, _ := views[0]["secrets"].([]any); len(secrets) != 2 {
		t.Errorf("key a secrets = %v, want 2 entries", views[0]["secrets"])
	}
	for _, member := range []string{"scopes", "allowed_cidrs", "expires_at", "status", "effective_status", "last_rotation"} {
		if _, ok := views[0][member]; !ok {
			t.Errorf("key a has no %q member", member)
		}
	}
}

func TestShow(t *testing.T) {
	h := newHarness(t)
	a := h.createArgs("a")
	a.Owner, a.Description, a.Rate, a.Burst = "ops", "nightly export", "100/m", "10"
	h.create(t, a)
	h.now = t0.Add(time.Hour)
	if err := h.runner().Rotate(h.file, "a", "2h"); err != nil {
		t.Fatal(err)
	}
	h.tokenLine(t)

	if err := h.runner().Show(h.file, "a", false); err != nil {
		t.Fatalf("Show() error: %v", err)
	}
	out := h.stdout.String()
	for _, want := range []string{
		"id:", "a\n",
		"status:", "active",
		"description:", "nightly export",
		"rate_limit:", "100/m, burst 10",
		"token 1:", "created 2026-01-02T03:04:05Z, valid until 2026-01-02T06:04:05Z",
		"token 2:", "created 2026-01-02T04:04:05Z\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
	h.checkNoSecrets(t, "show output", out)

	if err := h.runner().Show(h.file, "a", true); err != nil {
		t.Fatalf("Show(json) error: %v", err)
	}
	var v map[string]any
	if err := json.Unmarshal(h.stdout.Bytes(), &v); err != nil || v["id"] != "a" {
		t.Fatalf("show --json = %v, %v; want the object of key a", v, err)
	}
	h.checkNoSecrets(t, "show --json output", h.stdout.String())
}

func TestShowUnknownKey(t *testing.T) {
	h := newHarness(t)
	h.create(t, h.createArgs("a"))
	err := h.runner().Show(h.file, "nope", false)
	if !errors.Is(err, keystore.ErrKeyNotFound) || !strings.Contains(err.Error(), "key 'nope' not found") {
		t.Errorf("Show(nope) = %v, want ErrKeyNotFound naming the key", err)
	}
}

func TestOutputOfHandEditedText(t *testing.T) {
	h := newHarness(t)
	h.create(t, h.createArgs("a"))

	// A hand edit may put control characters in free text: the table and
	// the details must neither break nor pass escape sequences through.
	err := (&keystore.Store{Path: h.file}).Update(func(f *policy.KeysFile) error {
		f.Keys[0].Owner = "evil\x1b[2J\tteam\nx\xff"
		f.Keys[0].Description = "line1\rline2"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, asJSON := range []bool{false, true} {
		if err := h.runner().List(h.file, asJSON); err != nil {
			t.Fatal(err)
		}
		list := h.stdout.String()
		if err := h.runner().Show(h.file, "a", asJSON); err != nil {
			t.Fatal(err)
		}
		for name, out := range map[string]string{"list": list, "show": h.stdout.String()} {
			if strings.ContainsAny(out, "\x1b\r") || !utf8.ValidString(out) {
				t.Errorf("%s (json %v) output passes a control character through: %q", name, asJSON, out)
			}
		}
		if !asJSON && !strings.Contains(list, "evil?[2J?team?x?") {
			t.Errorf("list output = %q, want control characters shown as '?'", list)
		}
	}
}
