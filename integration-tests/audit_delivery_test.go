package integrationtests

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The audit tests run one at a time (no t.Parallel): they measure
// latencies and kill processes, and the leak scan needs every gateway log.

// checkMix checks the statuses of a full load of the request mix (see
// auditRequest): per sixteen requests eight 200s, five 401s and three 403s.
func checkMix(t *testing.T, seen loadSummary, requests int) {
	t.Helper()
	want := map[int]int{}
	for i := range requests {
		switch i % 16 {
		case 0, 1, 2, 3, 4, 5, 6, 7:
			want[http.StatusOK]++
		case 8, 9, 10, 11, 14:
			want[http.StatusUnauthorized]++
		default:
			want[http.StatusForbidden]++
		}
	}
	for status, n := range want {
		if seen.byStatus[status] != n {
			t.Errorf("responses with status %d = %d, want %d (all statuses: %v)", status, seen.byStatus[status], n, seen.byStatus)
		}
	}
}

// checkVerifyPasses runs 'awragate audit verify' on the rig's stream and
// fails the test unless it exits 0 and reports the rig's instance.
func checkVerifyPasses(t *testing.T, rig *auditRig) string {
	t.Helper()
	start := time.Now()
	stdout, stderr, code := rig.verify(t)
	if code != 0 {
		t.Fatalf("awragate audit verify exit code = %d, want 0\nstdout:\n%s\nstderr:\n%s", code, redact(stdout), redact(stderr))
	}
	if !strings.Contains(stdout, "instance "+rig.instance+"-") || !strings.Contains(stdout, "ok: every chain is intact") {
		t.Errorf("awragate audit verify stdout = %q, want instance %s and an intact chain", redact(stdout), rig.instance)
	}
	t.Logf("audit verify took %v: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(redact(stdout)))
	return stdout
}

func TestAuditEveryDecisionOnce(t *testing.T) {
	const requests, workers = 20000, 32
	rig := newAuditRig(t)
	rig.start(t)

	start := time.Now()
	run := rig.startLoad(context.Background(), t, auditLoad{Requests: requests, Workers: workers})
	samples := run.wait(t, 90*time.Second)
	loadTime := time.Since(start)
	seen := summarizeLoad(samples)
	if seen.failed > 0 || seen.withoutID > 0 {
		t.Fatalf("load: %d requests failed and %d responses had no request id, want 0; errors: %q",
			seen.failed, seen.withoutID, firstErrors(samples, 3))
	}
	checkMix(t, seen, requests)
	lat, _ := p99(samples)
	t.Logf("load: %d requests by %d workers in %v (%.0f req/s), p99 %v",
		requests, workers, loadTime.Round(time.Millisecond), float64(requests)/loadTime.Seconds(), lat.Round(10*time.Microsecond))

	v := waitForDecisions(t, rig.client, auditStream, requests, 30*time.Second)
	t.Logf("stream settled %v after the load ended: %d entries, %d decision events, notes: %s",
		time.Since(start)-loadTime, len(v.entries), v.decisionN, v.describeNotes())
	if v.decisionN != requests {
		t.Errorf("decision events = %d, want exactly %d", v.decisionN, requests)
	}
	if extra := checkExactlyOnce(t, v, seen); extra > 0 {
		t.Errorf("%d decision events carry a request id the client never saw, want 0", extra)
	}
	if v.noID > 0 {
		t.Errorf("%d decision events have no request id, want 0", v.noID)
	}
	v.checkGapFree(t)
	if len(v.seqs) != 1 {
		t.Errorf("the stream has %d instances, want 1", len(v.seqs))
	}
	if len(v.notes) > 0 {
		t.Errorf("audit notes = %s, want none (no drops, no restarts)", v.describeNotes())
	}

	m := auditMetrics(t, rig.gw)
	if d := droppedTotal(m); d != 0 {
		t.Errorf("caddy_awra_audit_events_dropped_total = %v, want 0", d)
	}
	if got := m["caddy_awra_audit_events_published_total"]; got < requests {
		t.Errorf("caddy_awra_audit_events_published_total = %v, want at least %d", got, requests)
	}
	if n := rig.echo.credentials.Load(); n > 0 {
		t.Errorf("the upstream received %d requests with a credential header, want 0", n)
	}
	checkVerifyPasses(t, rig)
}

func TestAuditRedisDownAtStart(t *testing.T) {
	const requests = 1600
	rig := newAuditRig(t)
	rig.redis.Stop()
	rig.start(t)

	run := rig.startLoad(context.Background(), t, auditLoad{Requests: requests, Workers: 8})
	samples := run.wait(t, 30*time.Second)
	seen := summarizeLoad(samples)
	if seen.failed > 0 || seen.withoutID > 0 {
		t.Fatalf("load with redis down: %d requests failed and %d responses had no request id, want 0; errors: %q",
			seen.failed, seen.withoutID, firstErrors(samples, 3))
	}
	checkMix(t, seen, requests)

	// The writer spools within milliseconds; give it a moment.
	var m map[string]float64
	deadline := time.Now().Add(5 * time.Second)
	for m = auditMetrics(t, rig.gw); m["caddy_awra_audit_events_spooled_total"] < requests && time.Now().Before(deadline); m = auditMetrics(t, rig.gw) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := m["caddy_awra_audit_events_spooled_total"]; got < requests {
		t.Errorf("caddy_awra_audit_events_spooled_total = %v with redis down, want at least %d", got, requests)
	}
	if got := m["caddy_awra_audit_redis_up"]; got != 0 {
		t.Errorf("caddy_awra_audit_redis_up = %v with redis down, want 0", got)
	}
	if got := m["caddy_awra_audit_events_published_total"]; got != 0 {
		t.Errorf("caddy_awra_audit_events_published_total = %v with redis down, want 0", got)
	}

	restarted := time.Now()
	rig.redis.Restart(t)
	v := waitForDecisions(t, rig.client, auditStream, requests, 20*time.Second)
	t.Logf("stream filled %v after redis started: %d entries", time.Since(restarted).Round(time.Millisecond), len(v.entries))
	if v.decisionN != requests {
		t.Errorf("decision events = %d, want exactly %d", v.decisionN, requests)
	}
	checkExactlyOnce(t, v, seen)
	v.checkGapFree(t)
	checkVerifyPasses(t, rig)

	if got := auditMetrics(t, rig.gw)["caddy_awra_audit_redis_up"]; got != 1 {
		t.Errorf("caddy_awra_audit_redis_up = %v after redis returned, want 1", got)
	}
	logText := readFileOrEmpty(rig.gw.logPath)
	if n := strings.Count(logText, "audit stream unavailable"); n != 1 {
		t.Errorf("the log has %d 'audit stream unavailable' warnings for one outage, want 1", n)
	}
	if !strings.Contains(logText, "audit stream available again") {
		t.Error("the log has no 'audit stream available again' note after redis returned")
	}
}
