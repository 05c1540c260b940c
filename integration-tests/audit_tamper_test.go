package integrationtests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/policy/audit"
)

// copyStream writes entries to the stream dst with their original ids,
// after edit has changed them, and copies the watermarks of src, as an
// attacker with write access to Redis could. edit gets copies of the
// fields and may reorder or drop entries.
func copyStream(t *testing.T, c *redis.Client, src, dst string, entries []audit.Entry, edit func([]audit.Entry) []audit.Entry) {
	t.Helper()
	ctx := context.Background()
	cp := make([]audit.Entry, len(entries))
	for i, e := range entries {
		fields := make(map[string]string, len(e.Fields))
		for k, v := range e.Fields {
			fields[k] = v
		}
		cp[i] = audit.Entry{ID: e.ID, Fields: fields}
	}
	ids := make([]string, len(cp))
	for i, e := range cp {
		ids[i] = e.ID
	}
	cp = edit(cp)

	for i, e := range cp {
		// Ids stay in their original order, so an edit that reorders
		// entries moves their content, as XDEL and XADD would.
		values := make([]any, 0, 2*len(e.Fields))
		for k, v := range e.Fields {
			values = append(values, k, v)
		}
		if err := c.XAdd(ctx, &redis.XAddArgs{Stream: dst, ID: ids[i], Values: values}).Err(); err != nil {
			t.Fatalf("XADD %s %s: %v", dst, ids[i], err)
		}
	}
	marks, err := c.HGetAll(ctx, src+audit.WatermarkSuffix).Result()
	if err != nil || len(marks) == 0 {
		t.Fatalf("HGETALL %s%s = %v, %v; want the watermarks", src, audit.WatermarkSuffix, marks, err)
	}
	if err := c.HSet(ctx, dst+audit.WatermarkSuffix, marks).Err(); err != nil {
		t.Fatalf("HSET %s%s: %v", dst, audit.WatermarkSuffix, err)
	}
}

func TestAuditVerifyDetectsTampering(t *testing.T) {
	const requests = 64
	rig := newAuditRig(t)
	rig.start(t)
	run := rig.startLoad(context.Background(), t, auditLoad{Requests: requests, Workers: 4})
	if seen := summarizeLoad(run.wait(t, 30*time.Second)); len(seen.ids) != requests {
		t.Fatalf("load: %d of %d requests answered with an id", len(seen.ids), requests)
	}
	v := waitForDecisions(t, rig.client, auditStream, requests, 20*time.Second)
	entries := v.entries
	checkVerifyPasses(t, rig)

	// The first problem verify names is the entry after the cut for a
	// deletion, and the later one of a swapped pair: only there does the
	// chain tell that something is wrong.
	tests := []struct {
		name      string
		edit      func([]audit.Entry) []audit.Entry
		direct    func(t *testing.T, stream string) // a raw command on the copy
		wantEntry int                               // index into entries of the entry verify must name
		wantKind  string
	}{
		{name: "changed decision", wantEntry: 10, wantKind: "[hash_mismatch]", edit: func(es []audit.Entry) []audit.Entry {
			if es[10].Fields["decision"] == "allow" {
				es[10].Fields["decision"] = "deny"
			} else {
				es[10].Fields["decision"] = "allow"
			}
			return es
		}},
		{name: "changed client ip", wantEntry: 11, wantKind: "[hash_mismatch]", edit: func(es []audit.Entry) []audit.Entry {
			es[11].Fields["client_ip"] = "203.0.113.7"
			return es
		}},
		{name: "deleted entry", wantEntry: 21, wantKind: "[gap]", edit: keepAll, direct: func(t *testing.T, stream string) {
			if err := rig.client.XDel(context.Background(), stream, entries[20].ID).Err(); err != nil {
				t.Fatalf("XDEL: %v", err)
			}
		}},
		{name: "deleted newest entry", wantEntry: len(entries) - 2, wantKind: "[missing_tail]", edit: keepAll, direct: func(t *testing.T, stream string) {
			if err := rig.client.Do(context.Background(), "XDEL", stream, entries[len(entries)-1].ID).Err(); err != nil {
				t.Fatalf("XDEL: %v", err)
			}
		}},
		{name: "swapped entries", wantEntry: 31, wantKind: "[out_of_order]", edit: func(es []audit.Entry) []audit.Entry {
			es[30], es[31] = es[31], es[30]
			return es
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := "tamper:" + strings.ReplaceAll(tt.name, " ", "-")
			copyStream(t, rig.client, auditStream, stream, entries, tt.edit)
			if tt.direct != nil {
				tt.direct(t, stream)
			}

			stdout, stderr, code := rig.runAuditCLI(t, "verify", "--redis", rig.redis.URL(), "--stream", stream)
			if code == 0 {
				t.Fatalf("awragate audit verify on a stream with a %s exit code = 0, want non-zero\nstdout:\n%s", tt.name, redact(stdout))
			}
			e := entries[tt.wantEntry]
			want := "entry '" + e.ID + "' (instance '" + e.Event.Instance + "', seq "
			_, problems, found := strings.Cut(stderr, "problem: ")
			if !found {
				t.Fatalf("awragate audit verify stderr = %q, want problem lines", redact(stderr))
			}
			firstProblem, _, _ := strings.Cut(problems, "\n")
			if !strings.HasPrefix(firstProblem, want) || !strings.HasSuffix(firstProblem, tt.wantKind) {
				t.Errorf("awragate audit verify first problem = %q, want it to start with %q and end with %q", redact(firstProblem), want, tt.wantKind)
			}
			if !strings.Contains(stderr, "audit verify failed") || !strings.Contains(stderr, want) {
				t.Errorf("awragate audit verify stderr = %q, want the error naming %q", redact(stderr), want)
			}
		})
	}
}

func keepAll(es []audit.Entry) []audit.Entry { return es }

// TestAuditTailAndExportCommands runs tail, export and verify --from-file
// of the real binary on a gateway's stream.
func TestAuditTailAndExportCommands(t *testing.T) {
	const requests = 32
	rig := newAuditRig(t)
	rig.start(t)
	run := rig.startLoad(context.Background(), t, auditLoad{Requests: requests, Workers: 2})
	run.wait(t, 30*time.Second)
	waitForDecisions(t, rig.client, auditStream, requests, 20*time.Second)
	common := []string{"--redis", rig.redis.URL(), "--stream", auditStream}

	stdout, stderr, code := rig.runAuditCLI(t, append([]string{"tail", "--count", "3"}, common...)...)
	if code != 0 {
		t.Fatalf("awragate audit tail exit code = %d, want 0; stderr: %s", code, redact(stderr))
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("awragate audit tail --count 3 printed %d lines, want 3:\n%s", len(lines), redact(stdout))
	}
	for _, line := range lines {
		if !strings.Contains(line, " "+rig.instance+"-") || !strings.Contains(line, " GET 127.0.0.1:") {
			t.Errorf("tail line = %q, want the instance and the request", redact(line))
		}
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "audit.jsonl")
	_, stderr, code = rig.runAuditCLI(t, append([]string{"export", "--since", "1h", "--out", out}, common...)...)
	if code != 0 || !strings.Contains(stderr, "exported 32 of 32 entries") {
		t.Fatalf("awragate audit export exit code = %d, stderr %q; want 0 and 32 entries", code, redact(stderr))
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("export file mode = %v, want 0600", mode)
	}
	stdout, stderr, code = rig.runAuditCLI(t, "verify", "--from-file", out)
	if code != 0 || !strings.Contains(stdout, "ok: every chain is intact") {
		t.Errorf("awragate audit verify --from-file exit code = %d, stdout %q, stderr %q; want 0 and an intact chain", code, redact(stdout), redact(stderr))
	}

	_, stderr, code = rig.runAuditCLI(t, append([]string{"export", "--decision", "deny", "--module", "api_key", "--out", out}, common...)...)
	if code != 0 || !strings.Contains(stderr, "exported 14 of 32 entries") {
		t.Errorf("awragate audit export --decision deny --module api_key exit code = %d, stderr %q; want 0 and 14 entries (7 of each 16 requests)", code, redact(stderr))
	}

	_, stderr, code = runURLCommand(t, []string{chainKeyEnv + "="}, suite.binary, "audit", "verify", "--from-file", out)
	if code == 0 || !strings.Contains(stderr, chainKeyEnv) {
		t.Errorf("awragate audit verify without %s exit code = %d, stderr %q; want non-zero and the variable named", chainKeyEnv, code, redact(stderr))
	}
}
