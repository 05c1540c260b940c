package integrationtests

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Parameters of the gateway restart tests: a paced load long enough that
// the gateway stops a third of the way through and serves again for a few
// seconds after its restart.
const (
	restartRequests = 6000
	restartRate     = 1500 // requests per second
	restartWorkers  = 8

	// inFlightWindow bounds how long before a SIGKILL a request may have
	// got its response and still have no audit event. Such an event was
	// in the in-memory queue, which a kill loses: the writer polls the
	// queue every millisecond and commits a batch per fsync.
	inFlightWindow = time.Second

	// minUnpublished is the spool backlog at which the SIGKILL test kills
	// the gateway.
	minUnpublished = 100
)

// checkRestartLoad fails the test unless the load's requests either got a
// response with a request id or failed while the gateway was down.
func checkRestartLoad(t *testing.T, samples []loadSample, seen loadSummary) {
	t.Helper()
	if seen.withoutID > 0 {
		t.Errorf("%d responses had no request id, want 0", seen.withoutID)
	}
	if len(seen.ids) < restartRequests/2 {
		t.Fatalf("only %d of %d requests got a response; errors: %q", len(seen.ids), restartRequests, firstErrors(samples, 3))
	}
	t.Logf("load: %d responses, %d requests failed while the gateway was down (e.g. %q)",
		len(seen.ids), seen.failed, firstErrors(samples, 1))
}

func TestAuditGatewaySIGTERMMidLoad(t *testing.T) {
	rig := newAuditRig(t)
	rig.start(t)

	run := rig.startLoad(context.Background(), t, auditLoad{Requests: restartRequests, Workers: restartWorkers, Rate: restartRate})
	run.waitDone(t, restartRequests/3, 30*time.Second)
	stopped := time.Now()
	rig.gw.signalAndWait(t, syscall.SIGTERM)
	stopTime := time.Since(stopped)
	rig.gw.restart(t, rig.env())
	t.Logf("gateway stopped by SIGTERM in %v and serving again %v after the signal, after %d requests",
		stopTime.Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond), run.Done.Load())

	samples := run.wait(t, 60*time.Second)
	seen := summarizeLoad(samples)
	checkRestartLoad(t, samples, seen)

	// A lower bound keeps a missing event from turning into a 30 s wait;
	// the exact check follows.
	v := waitForDecisions(t, rig.client, auditStream, len(seen.ids)*9/10, 30*time.Second)
	if r := matchRequestIDs(v, seen); len(r.missing) > 0 {
		t.Errorf("after the graceful stop: %s", describeMissing(samples, r.missing, stopped))
	}
	extra := checkExactlyOnce(t, v, seen)
	t.Logf("stream: %d decision events for %d responses; %d events of requests whose response the client did not get; notes: %s",
		v.decisionN, len(seen.ids), extra, v.describeNotes())
	// Caddy finishes requests in flight during its grace period, so each
	// event should have reached its client.
	if extra > restartWorkers {
		t.Errorf("%d decision events carry a request id the client never saw, want at most %d (one request in flight per worker)", extra, restartWorkers)
	}
	v.checkGapFree(t)
	if len(v.seqs) != 1 {
		t.Errorf("the stream has %d instances, want 1: a restart on the same spool continues its chain", len(v.seqs))
	}
	if n := len(v.notesWithReason("unclean_restart")); n != 0 {
		t.Errorf("unclean_restart events = %d after a SIGTERM, want 0", n)
	}
	if len(v.notes) > 0 {
		t.Errorf("audit notes = %s, want none after a graceful stop", v.describeNotes())
	}
	checkVerifyPasses(t, rig)
}

// TestAuditGatewaySIGKILLMidLoad stops Redis first, so that the spool
// holds unpublished events when the gateway is killed, and checks that the
// restarted gateway publishes them. Requests that got their response in
// the last moment before the kill may have no event, because their events
// were still in the in-memory queue. The test allows that only within
// inFlightWindow of the kill, and requires the unclean_restart event that
// declares such a loss. Seqs are
// assigned by the writer as it spools, so the chain itself has no gap and
// verify must pass.
func TestAuditGatewaySIGKILLMidLoad(t *testing.T) {
	rig := newAuditRig(t)
	rig.start(t)

	run := rig.startLoad(context.Background(), t, auditLoad{Requests: restartRequests, Workers: restartWorkers, Rate: restartRate})
	run.waitDone(t, restartRequests/4, 30*time.Second)
	rig.redis.Stop()
	run.waitDone(t, restartRequests/3, 30*time.Second)

	// Kill only once the spool holds a backlog, which takes longer when
	// the disk is slow.
	var unpublished float64
	deadline := time.Now().Add(10 * time.Second)
	for unpublished < minUnpublished {
		m := auditMetrics(t, rig.gw)
		unpublished = m["caddy_awra_audit_events_spooled_total"] - m["caddy_awra_audit_events_published_total"]
		if time.Now().After(deadline) {
			t.Fatalf("spooled but unpublished events = %.0f 10s after redis stopped, want at least %d", unpublished, minUnpublished)
		}
		time.Sleep(10 * time.Millisecond)
	}
	killed := time.Now()
	rig.gw.signalAndWait(t, syscall.SIGKILL)
	dead := time.Now() // responses may still arrive between killed and dead
	t.Logf("gateway killed (SIGKILL) after %d requests with at least %.0f events spooled but not published", run.Done.Load(), unpublished)

	rig.redis.Restart(t)
	rig.gw.restart(t, rig.env())
	t.Logf("gateway serving again %v after the kill", time.Since(killed).Round(time.Millisecond))

	samples := run.wait(t, 60*time.Second)
	seen := summarizeLoad(samples)
	checkRestartLoad(t, samples, seen)

	// Events of requests that got a response just before the kill may be
	// lost, so the wait requires less than every response. The exact
	// checks follow.
	v := waitForDecisions(t, rig.client, auditStream, len(seen.ids)*9/10, 30*time.Second)
	r := matchRequestIDs(v, seen)
	if len(r.doubled) > 0 {
		t.Errorf("%d request ids have more than one audit event, e.g. %q", len(r.doubled), r.doubled[:min(5, len(r.doubled))])
	}

	// Every request id without an event must belong to a response that
	// arrived shortly before the process died.
	missing := map[string]bool{}
	for _, id := range r.missing {
		missing[id] = true
	}
	var inFlight int
	var early, afterRestart []string
	for _, s := range samples {
		if !missing[s.RequestID] {
			continue
		}
		switch end := s.Start.Add(s.Latency); {
		case end.After(dead):
			afterRestart = append(afterRestart, s.RequestID)
		case killed.Sub(end) > inFlightWindow:
			early = append(early, s.RequestID)
		default:
			inFlight++
		}
	}
	if len(early) > 0 {
		t.Errorf("%d request ids whose response arrived more than %v before the kill have no audit event, e.g. %q",
			len(early), inFlightWindow, early[:min(5, len(early))])
	}
	if len(afterRestart) > 0 {
		t.Errorf("%d request ids served by the restarted gateway have no audit event, e.g. %q", len(afterRestart), afterRestart[:min(5, len(afterRestart))])
	}
	t.Logf("stream: %d decision events for %d responses; %d responses that arrived just before the kill have no event (lost with the in-memory queue); %d events of requests whose response the client did not get; notes: %s",
		v.decisionN, len(seen.ids), inFlight, r.extra, v.describeNotes())
	if r.extra > restartWorkers {
		t.Errorf("%d decision events carry a request id the client never saw, want at most %d (one request in flight per worker)", r.extra, restartWorkers)
	}

	v.checkGapFree(t)
	unclean := v.notesWithReason("unclean_restart")
	if len(unclean) != 1 {
		t.Errorf("unclean_restart events = %d after one SIGKILL, want 1; notes: %s", len(unclean), v.describeNotes())
	} else if inst := unclean[0].Event.Instance; !strings.HasPrefix(inst, rig.instance+"-") {
		t.Errorf("unclean_restart event instance = %q, want the rig's instance %s", inst, rig.instance)
	}
	checkVerifyPasses(t, rig)
}

// describeMissing reports when the requests without an audit event got
// their response, relative to the nearest of the moments in refs (when the
// gateway was signalled or reloaded).
func describeMissing(samples []loadSample, missing []string, refs ...time.Time) string {
	set := map[string]bool{}
	for _, id := range missing {
		set[id] = true
	}
	var offsets []string
	for _, s := range samples {
		if !set[s.RequestID] {
			continue
		}
		end := s.Start.Add(s.Latency)
		nearest, best := 0, time.Duration(1<<62)
		for i, ref := range refs {
			if d := end.Sub(ref).Abs(); d < best {
				nearest, best = i, d
			}
		}
		offset := end.Sub(refs[nearest]).Round(time.Millisecond)
		sign := "+"
		if offset < 0 {
			sign = "" // Duration.String writes the minus
		}
		offsets = append(offsets, fmt.Sprintf("#%d %s%v", nearest+1, sign, offset))
	}
	if len(offsets) > 10 {
		offsets = append(offsets[:10], "...")
	}
	return fmt.Sprintf("%d request ids the client saw have no audit event; their responses arrived at (signal or reload number, offset): %s",
		len(missing), strings.Join(offsets, ", "))
}
