package integrationtests

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
)

// waitForEntry polls the stream until an entry matches, and returns it.
func waitForEntry(t *testing.T, rig *auditRig, what string, timeout time.Duration, match func(audit.Entry) bool) audit.Entry {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := readStreamView(t, rig.client, auditStream)
		for _, e := range v.entries {
			if e.Err == nil && match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the stream after %v (%d entries)", what, timeout, len(v.entries))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAuditKeyRevokedEvent(t *testing.T) {
	rig := newAuditRig(t)
	rig.start(t)
	c := clientFrom(t, "")
	url := rig.gw.url("/api/inventory/items")
	if resp := get(t, c, url, apiKey(rig.reader.Token)); resp.Status != http.StatusOK {
		t.Fatalf("GET with key %s before the revocation = %s, want 200", rig.reader.ID, resp.describe())
	}

	revoked := time.Now()
	rig.reader.Record.Status = policy.KeyRevoked
	rig.reader.Record.UpdatedAt = time.Now().UTC().Truncate(time.Second)
	writeKeysFile(t, rig.keysFile, rig.reader)

	admin := waitForEntry(t, rig, "admin key_revoked event", 10*time.Second, func(e audit.Entry) bool {
		return e.Event.Module == audit.ModuleAdmin && e.Event.Reason == "key_revoked"
	})
	t.Logf("admin event %s appeared within %v of the keys file change: %s", admin.ID, time.Since(revoked).Round(time.Millisecond), redact(admin.Fields["detail"]))
	if admin.Event.KeyID != rig.reader.ID {
		t.Errorf("admin event key_id = %q, want %q", admin.Event.KeyID, rig.reader.ID)
	}
	if !strings.HasPrefix(admin.Event.Instance, rig.instance+"-") {
		t.Errorf("admin event instance = %q, want the gateway's instance %s", admin.Event.Instance, rig.instance)
	}
	if strings.Contains(admin.Fields["detail"], policy.HashPrefix) {
		t.Errorf("admin event detail = %q, want no token hash", admin.Fields["detail"])
	}

	// Requests with the revoked key are denied and audited as such.
	resp := get(t, c, url, apiKey(rig.reader.Token))
	p := checkProblem(t, "GET with the revoked key", resp, http.StatusUnauthorized, "key_revoked")
	deny := waitForEntry(t, rig, "deny event of the revoked key", 10*time.Second, func(e audit.Entry) bool {
		return e.Event.RequestID == p.RequestID
	})
	if deny.Event.Decision != audit.DecisionDeny || deny.Event.Reason != "key_revoked" || deny.Event.KeyID != rig.reader.ID || deny.Event.Status != http.StatusUnauthorized {
		t.Errorf("event of the revoked key's request = %s %s key %q status %d, want deny key_revoked key %q status 401",
			deny.Event.Decision, deny.Event.Reason, deny.Event.KeyID, deny.Event.Status, rig.reader.ID)
	}
	checkVerifyPasses(t, rig)
}

// TestAuditValidateLeavesSpoolAlone runs 'awragate validate' on the
// configuration of a gateway that is serving and publishing. validate
// provisions the configuration but never starts it, so it must neither
// open nor lock the spool: the spool allows one process at a time, and a
// validate that opened it would wait for the lock and fail.
func TestAuditValidateLeavesSpoolAlone(t *testing.T) {
	rig := newAuditRig(t)
	rig.start(t)
	run := rig.startLoad(context.Background(), t, auditLoad{Requests: 3000, Workers: 4, Rate: 1000})
	run.waitDone(t, 1000, 30*time.Second)

	spoolBefore := dirNames(t, rig.spoolDir)
	start := time.Now()
	stdout, stderr, code := runURLCommand(t, rig.env(), suite.binary, "validate", "--config", rig.gw.configPath, "--adapter", "caddyfile")
	took := time.Since(start)
	t.Logf("awragate validate exited %d in %v", code, took.Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("awragate validate exit code = %d, want 0\nstdout:\n%s\nstderr:\n%s", code, redact(stdout), redact(stderr))
	}
	if took > 5*time.Second {
		t.Errorf("awragate validate took %v, want under 5s", took)
	}
	if strings.Contains(stdout+stderr, "spool") {
		t.Errorf("awragate validate output mentions the spool:\n%s", redact(stdout+stderr))
	}
	if after := dirNames(t, rig.spoolDir); strings.Join(after, ",") != strings.Join(spoolBefore, ",") {
		t.Errorf("spool directory = %q after validate, want %q unchanged", after, spoolBefore)
	}

	// validate does check the audit options: without the chain key it
	// fails, so the pass above was not for want of looking.
	_, stderr, code = runURLCommand(t, []string{chainKeyEnv + "="}, suite.binary, "validate", "--config", rig.gw.configPath, "--adapter", "caddyfile")
	if code == 0 || !strings.Contains(stderr, "chain_key") {
		t.Errorf("awragate validate without %s exit code = %d, stderr %q; want non-zero and chain_key named", chainKeyEnv, code, redact(stderr))
	}

	// The gateway keeps publishing: every request of the load, including
	// those sent after validate, reaches the stream.
	samples := run.wait(t, 30*time.Second)
	seen := summarizeLoad(samples)
	if seen.failed > 0 || seen.withoutID > 0 {
		t.Fatalf("load: %d requests failed and %d responses had no request id, want 0", seen.failed, seen.withoutID)
	}
	v := waitForDecisions(t, rig.client, auditStream, len(seen.ids), 20*time.Second)
	checkExactlyOnce(t, v, seen)
	if len(v.notes) > 0 {
		t.Errorf("audit notes = %s, want none", v.describeNotes())
	}
	checkVerifyPasses(t, rig)
}

// dirNames returns the sorted names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading '%s': %v", dir, err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = filepath.Base(e.Name())
	}
	return names
}
