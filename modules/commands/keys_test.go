package commands

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/awra/awragate/modules/commands/keyscli"
	"github.com/awra/awragate/policy"
)

// execute runs 'awragate keys args...' in process through cobra, as
// caddycmd would, and returns both outputs.
func execute(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := &cobra.Command{Use: "awragate", SilenceUsage: true}
	keys := &cobra.Command{Use: "keys", Short: "keys"}
	configureKeysCommand(keys)
	root.AddCommand(keys)

	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"keys"}, args...))
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// checkNoSecret fails if out contains the token, its secret or a hash.
func checkNoSecret(t *testing.T, where, out, token string) {
	t.Helper()
	_, secret, _ := policy.ParseToken(token)
	if strings.Contains(out, policy.HashPrefix) || strings.Contains(out, token) || secret != "" && strings.Contains(out, secret) {
		t.Errorf("%s contains a token or a hash", where)
	}
}

// onlyToken checks that stdout is a single token line and returns it.
func onlyToken(t *testing.T, stdout string) string {
	t.Helper()
	token, ok := strings.CutSuffix(stdout, "\n")
	if !ok || strings.Contains(token, "\n") {
		t.Fatalf("stdout has %d lines, want exactly one token line", strings.Count(stdout, "\n"))
	}
	if _, _, ok := policy.ParseToken(token); !ok {
		t.Fatal("stdout is not a valid token")
	}
	return token
}

func TestKeysCreateAndRotate(t *testing.T) {
	t.Setenv(keyscli.FileEnv, "")
	file := filepath.Join(t.TempDir(), "keys.json")

	stdout, stderr, err := execute(t, "create", "--file", file, "--id", "inventory-sync",
		"--scope", "inventory:read", "--scope", "sales:read",
		"--cidr", "10.0.0.0/8", "--cidr", "2001:db8::/32",
		"--expires-in", "30d", "--rate", "20/s", "--burst", "40", "--owner", "platform team")
	if err != nil {
		t.Fatalf("keys create error: %v (stderr %q)", err, stderr)
	}
	token := onlyToken(t, stdout)
	if !strings.Contains(stderr, "created key 'inventory-sync'") {
		t.Errorf("create stderr = %q, want a note naming the key", stderr)
	}
	checkNoSecret(t, "create stderr", stderr, token)

	stdout, stderr, err = execute(t, "rotate", "inventory-sync", "--file", file, "--grace", "1d")
	if err != nil {
		t.Fatalf("keys rotate error: %v (stderr %q)", err, stderr)
	}
	rotated := onlyToken(t, stdout)
	if rotated == token {
		t.Error("rotate printed the old token")
	}
	checkNoSecret(t, "rotate stderr", stderr, rotated)
	checkNoSecret(t, "rotate stderr", stderr, token)

	for _, args := range [][]string{
		{"list", "--file", file},
		{"list", "--file", file, "--json"},
		{"show", "inventory-sync", "--file", file},
		{"show", "inventory-sync", "--file", file, "--json"},
	} {
		stdout, stderr, err := execute(t, args...)
		if err != nil {
			t.Fatalf("keys %v error: %v", args, err)
		}
		if !strings.Contains(stdout, "inventory-sync") {
			t.Errorf("keys %v stdout = %q, want the key", args, stdout)
		}
		for _, tok := range []string{token, rotated} {
			checkNoSecret(t, "keys "+strings.Join(args, " "), stdout+stderr, tok)
		}
	}
}

func TestKeysStatusCommands(t *testing.T) {
	t.Setenv(keyscli.FileEnv, "")
	file := filepath.Join(t.TempDir(), "keys.json")
	if _, _, err := execute(t, "create", "--file", file, "--id", "a", "--scope", "a:b", "--cidr", "10.0.0.0/8"); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		args []string
		note string
		err  string
	}{
		{[]string{"suspend", "a"}, "suspended key 'a'", ""},
		{[]string{"resume", "a"}, "resumed key 'a'", ""},
		{[]string{"resume", "a"}, "already active", ""},
		{[]string{"revoke", "a"}, "revoked key 'a'", ""},
		{[]string{"resume", "a"}, "", "revocation is final"},
		{[]string{"rotate", "a"}, "", "revocation is final"},
	}
	for i, step := range steps {
		stdout, stderr, err := execute(t, append(step.args, "--file", file)...)
		if step.err != "" {
			if err == nil || !strings.Contains(err.Error(), step.err) {
				t.Errorf("step %d keys %v: error = %v, want one containing %q", i, step.args, err, step.err)
			}
			if !strings.Contains(stderr, step.err) {
				t.Errorf("step %d keys %v: stderr = %q, want the error printed", i, step.args, stderr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d keys %v: error = %v", i, step.args, err)
		}
		if stdout != "" || !strings.Contains(stderr, step.note) {
			t.Errorf("step %d keys %v: stdout %q, stderr %q; want no stdout and %q", i, step.args, stdout, stderr, step.note)
		}
	}
}

func TestKeysFileFromEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys.json")
	t.Setenv(keyscli.FileEnv, file)
	stdout, _, err := execute(t, "create", "--id", "a", "--scope", "a:b", "--cidr", "10.0.0.0/8")
	if err != nil {
		t.Fatalf("keys create with %s set = %v", keyscli.FileEnv, err)
	}
	onlyToken(t, stdout)
	if stdout, _, err := execute(t, "show", "a"); err != nil || !strings.Contains(stdout, "a") {
		t.Errorf("keys show a with %s set = %q, %v", keyscli.FileEnv, stdout, err)
	}
}

func TestKeysArgumentErrors(t *testing.T) {
	t.Setenv(keyscli.FileEnv, "")
	file := filepath.Join(t.TempDir(), "keys.json")
	base := []string{"create", "--file", file, "--id", "a", "--cidr", "10.0.0.0/8"}

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"bad scope", append(base, "--scope", "inventory"), []string{"--scope", "'inventory'", "for example inventory:read"}},
		{"missing cidr", []string{"create", "--file", file, "--id", "a", "--scope", "a:b"}, []string{"missing --cidr", "--cidr 0.0.0.0/0 --cidr ::/0"}},
		{"zero expiry", append(base, "--scope", "a:b", "--expires-in", "0"), []string{"--expires-in", "'0'"}},
		{"fractional days", append(base, "--scope", "a:b", "--expires-in", "1.5d"), []string{"--expires-in", "'1.5d'", "36h"}},
		{"burst without rate", append(base, "--scope", "a:b", "--burst", "5"), []string{"--burst '5' needs --rate"}},
		{"missing file", []string{"list"}, []string{"missing --file", keyscli.FileEnv}},
		{"unknown flag", []string{"list", "--fil", file}, []string{"--fil", "keys list --help"}},
		{"positional on create", []string{"create", "a", "--file", file}, []string{"unexpected argument 'a'", "flags only"}},
		{"missing id", []string{"show", "--file", file}, []string{"missing key id", "awragate keys show ID"}},
		{"too many ids", []string{"revoke", "a", "b", "--file", file}, []string{"too many arguments"}},
		{"bad grace", []string{"rotate", "a", "--file", file, "--grace", "-1h"}, []string{"--grace", "'-1h'"}},
		{"no subcommand", nil, []string{"missing subcommand", "create, list"}},
		{"unknown subcommand", []string{"delete", "a"}, []string{"unknown subcommand 'delete'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := execute(t, tt.args...)
			if err == nil {
				t.Fatalf("keys %v = nil error, want an error", tt.args)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("keys %v error = %q, want it to contain %q", tt.args, err, w)
				}
			}
			if stdout != "" {
				t.Errorf("keys %v stdout = %q, want nothing", tt.args, stdout)
			}
			if !strings.Contains(stderr, "Error:") {
				t.Errorf("keys %v stderr = %q, want the error printed", tt.args, stderr)
			}
		})
	}
}
