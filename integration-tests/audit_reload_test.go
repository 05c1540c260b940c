package integrationtests

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// Parameters of the reload test: a paced load of about four seconds with
// a configuration reload at each quarter.
const (
	reloadRequests = 6000
	reloadRate     = 1500 // requests per second
	reloadWorkers  = 8
	reloadCount    = 3
)

// TestAuditConfigReloadUnderLoad reloads a changed but compatible
// configuration (a new route, same audit options) through POST /load
// while requests run. The old and new configurations share one pipeline,
// so the stream must hold one chain and one event per request that got a
// response.
func TestAuditConfigReloadUnderLoad(t *testing.T) {
	rig := newAuditRig(t)
	rig.start(t)

	run := rig.startLoad(context.Background(), t, auditLoad{Requests: reloadRequests, Workers: reloadWorkers, Rate: reloadRate})
	var reloadedAt []time.Time
	for i := 1; i <= reloadCount; i++ {
		run.waitDone(t, int64(reloadRequests*i/(reloadCount+1)), 30*time.Second)
		marker := fmt.Sprintf("reload-%d", i)
		cfg := rig.config("\thandle /reload-check {\n\t\trespond " + marker + " 200\n\t}\n")
		start := time.Now()
		rig.gw.reload(t, cfg)
		reloadedAt = append(reloadedAt, start)
		t.Logf("reload %d took %v, after %d requests", i, time.Since(start).Round(time.Millisecond), run.Done.Load())

		resp := getAfterReload(t, plainClient(), rig.gw.url("/reload-check"), nil)
		if resp.Status != http.StatusOK || string(resp.Body) != marker {
			t.Errorf("GET /reload-check after reload %d = %d %q, want 200 %q", i, resp.Status, resp.Body, marker)
		}
	}

	samples := run.wait(t, 60*time.Second)
	seen := summarizeLoad(samples)
	if seen.withoutID > 0 {
		t.Errorf("%d responses had no request id, want 0", seen.withoutID)
	}
	if seen.failed > 0 {
		t.Logf("%d requests failed during the reloads: %q", seen.failed, firstErrors(samples, 3))
	}
	if seen.failed > reloadWorkers*reloadCount {
		t.Errorf("%d requests failed during %d reloads, want at most %d", seen.failed, reloadCount, reloadWorkers*reloadCount)
	}

	v := waitForDecisions(t, rig.client, auditStream, len(seen.ids)*9/10, 30*time.Second)
	if r := matchRequestIDs(v, seen); len(r.missing) > 0 {
		t.Errorf("after %d reloads: %s; caddy_awra_audit_events_dropped_total = %v, audit notes: %s",
			reloadCount, describeMissing(samples, r.missing, reloadedAt...), droppedTotal(auditMetrics(t, rig.gw)), v.describeNotes())
	}
	extra := checkExactlyOnce(t, v, seen)
	t.Logf("stream: %d decision events for %d responses; %d events of requests whose response the client did not get; notes: %s",
		v.decisionN, len(seen.ids), extra, v.describeNotes())
	if extra > seen.failed {
		t.Errorf("%d decision events carry a request id the client never saw, want at most the %d failed requests", extra, seen.failed)
	}
	v.checkGapFree(t)
	if len(v.seqs) != 1 {
		t.Errorf("the stream has %d instances after reloads, want 1: the configurations share one pipeline", len(v.seqs))
	}
	if len(v.notes) > 0 {
		t.Errorf("audit notes = %s, want none after reloads", v.describeNotes())
	}
	checkVerifyPasses(t, rig)
}
