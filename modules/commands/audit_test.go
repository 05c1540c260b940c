package commands

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/awra/awragate/internal/testredis"
	"github.com/awra/awragate/modules/commands/auditcli"
	"github.com/awra/awragate/policy/audit"
)

// executeAudit runs 'awragate audit args...' in process through cobra, as
// caddycmd would, and returns both outputs.
func executeAudit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := &cobra.Command{Use: "awragate", SilenceUsage: true}
	cmd := &cobra.Command{Use: "audit", Short: "audit"}
	configureAuditCommand(cmd)
	root.AddCommand(cmd)

	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"audit"}, args...))
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func TestAuditCommandRejectsBadInput(t *testing.T) {
	t.Setenv(auditcli.ChainKeyEnv, "")
	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{"no subcommand", nil, "missing subcommand: use one of tail, export, verify"},
		{"unknown subcommand", []string{"show"}, "unknown subcommand 'show'"},
		{"unknown flag", []string{"tail", "--bogus"}, "unknown flag: --bogus; see 'awragate audit tail --help'"},
		{"chain key is no flag", []string{"verify", "--chain-key", "x"}, "unknown flag: --chain-key"},
		{"positional argument", []string{"tail", "20"}, "unexpected argument '20'"},
		{"count not a number", []string{"tail", "--count", "ten"}, "--count 'ten': invalid count: use a whole number from 0 to 100000"},
		{"count too large", []string{"tail", "--count", "100001"}, "--count '100001'"},
		{"export without out", []string{"export", "--since", "24h"}, "missing --out"},
		{"since not a time", []string{"export", "--out", "x.jsonl", "--since", "last week"}, "--since 'last week'"},
		{"until before since", []string{"export", "--out", "x.jsonl", "--since", "1h", "--until", "2h"}, "is not before --until '2h'"},
		{"decision unknown", []string{"export", "--out", "x.jsonl", "--decision", "block"}, "--decision 'block': unknown decision: use allow or deny"},
		{"module unknown", []string{"export", "--out", "x.jsonl", "--module", "keys"}, "--module 'keys': unknown module"},
		{"verify without key", []string{"verify"}, "set the AWRA_AUDIT_CHAIN_KEY environment variable"},
		{"bad redis url", []string{"tail", "--redis", "127.0.0.1:6379"}, "--redis '127.0.0.1:6379': invalid Redis URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := executeAudit(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("audit %q = %v, want an error containing %q", tt.args, err, tt.wantMsg)
			}
		})
	}
}

func TestAuditCommandsOnStream(t *testing.T) {
	srv := testredis.Start(t)
	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()

	// Real events, written by the pipeline the gateway uses.
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		t.Fatal(err)
	}
	key := hex.EncodeToString(raw[:])
	p, err := audit.Open(audit.Config{RedisURL: srv.URL(), Stream: "it:audit", SpoolDir: t.TempDir(), ChainKey: []byte(key), Instance: "cmdtest"})
	if err != nil {
		t.Fatalf("audit.Open() = %v", err)
	}
	for i := range 5 {
		ev := audit.NewEvent()
		ev.Module, ev.Decision, ev.Reason, ev.Status = audit.ModuleAPIKey, audit.DecisionDeny, "key_missing", 401
		ev.Method, ev.Host, ev.Path = "GET", "127.0.0.1", "/api/inventory/"+string(rune('a'+i))
		p.Enqueue(ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	t.Setenv(auditcli.ChainKeyEnv, key)
	common := []string{"--redis", srv.URL(), "--stream", "it:audit"}

	stdout, _, err := executeAudit(t, append([]string{"tail", "--count", "2"}, common...)...)
	if err != nil {
		t.Fatalf("audit tail = %v", err)
	}
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); len(lines) != 2 || !strings.Contains(lines[1], ":5 api_key deny key_missing 401 key=- ip=- req=- GET 127.0.0.1 /api/inventory/e") {
		t.Errorf("audit tail --count 2 = %q, want the lines of seqs 4 and 5", stdout)
	}

	stdout, stderr, err := executeAudit(t, append([]string{"verify"}, common...)...)
	if err != nil {
		t.Fatalf("audit verify = %v; stderr %q", err, stderr)
	}
	if !strings.Contains(stdout, "instance cmdtest-") || !strings.Contains(stdout, "5 entries, seq 1-5, watermark 5") {
		t.Errorf("audit verify stdout = %q, want the summary of instance cmdtest", stdout)
	}

	out := filepath.Join(t.TempDir(), "audit.jsonl")
	_, stderr, err = executeAudit(t, append([]string{"export", "--out", out, "--since", "1h", "--decision", "deny", "--module", "api_key"}, common...)...)
	if err != nil {
		t.Fatalf("audit export = %v", err)
	}
	if !strings.Contains(stderr, "exported 5 of 5 entries") {
		t.Errorf("audit export stderr = %q, want the count", stderr)
	}
	stdout, _, err = executeAudit(t, "verify", "--from-file", out)
	if err != nil || !strings.Contains(stdout, "ok: every chain is intact") {
		t.Errorf("audit verify --from-file = %v, stdout %q; want an intact chain", err, stdout)
	}

	if err := client.XDel(context.Background(), "it:audit", firstID(t, client, "it:audit", 3)).Err(); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = executeAudit(t, append([]string{"verify"}, common...)...)
	if err == nil || !strings.Contains(err.Error(), "seq 3 is missing before seq 4") {
		t.Errorf("audit verify after XDEL = %v, want the gap named", err)
	}
	if strings.Contains(stdout+stderr, key) {
		t.Error("audit output contains the chain key")
	}
}

// firstID returns the stream id of the n-th entry (from 1).
func firstID(t *testing.T, c *redis.Client, stream string, n int64) string {
	t.Helper()
	msgs, err := c.XRangeN(context.Background(), stream, "-", "+", n).Result()
	if err != nil || int64(len(msgs)) < n {
		t.Fatalf("XRANGE %s: %v (%d entries)", stream, err, len(msgs))
	}
	return msgs[n-1].ID
}
