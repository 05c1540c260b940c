package integrationtests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Parameters of the Redis outage test. The load is paced, so that the
// latencies before and during the outage are measured at the same
// throughput rather than at saturation, where they mostly measure the
// machine.
const (
	outageRequests = 9000
	outageRate     = 1000 // requests per second
	outageWorkers  = 8
	outageLength   = 5 * time.Second

	// outageWarmup requests are left out of the "before" figure: they
	// open the connections.
	outageWarmup = 300

	// outageSlack is added to twice the p99 before the outage to give the
	// bound of the p99 during it, so that a sub-millisecond baseline does
	// not make scheduler noise fail the test.
	outageSlack = 5 * time.Millisecond
)

// outageAttempts is how often the outage runs before a p99 over the bound
// fails the test. Every attempt checks delivery strictly; only the latency
// comparison is retried, because on a shared 2-core machine another
// process taking a CPU for a few seconds moves the p99 of one phase by more
// than the bound allows.
const outageAttempts = 3

func TestAuditRedisOutageUnderLoad(t *testing.T) {
	for attempt := 1; ; attempt++ {
		if runRedisOutage(t, attempt == outageAttempts) || t.Failed() {
			return
		}
		t.Logf("attempt %d of %d: the p99 during the outage exceeded the bound; running the outage again", attempt, outageAttempts)
	}
}

// runRedisOutage kills Redis a third of the way through a paced load and
// restarts it empty 5 s later. It reports whether the p99 during the
// outage stayed within the bound; on the last attempt a miss is an error.
func runRedisOutage(t *testing.T, last bool) bool {
	rig := newAuditRig(t)
	rig.start(t)

	run := rig.startLoad(context.Background(), t, auditLoad{Requests: outageRequests, Workers: outageWorkers, Rate: outageRate})
	run.waitDone(t, outageRequests/3, 30*time.Second)
	killed := time.Now()
	rig.redis.Kill()
	t.Logf("redis killed (SIGKILL) after %d requests", run.Done.Load())

	time.Sleep(outageLength - time.Since(killed))
	rig.redis.Restart(t)
	restarted := time.Now()
	t.Logf("redis restarted empty %v after the kill, after %d requests", restarted.Sub(killed).Round(time.Millisecond), run.Done.Load())

	samples := run.wait(t, 60*time.Second)
	seen := summarizeLoad(samples)
	if seen.failed > 0 || seen.withoutID > 0 {
		t.Fatalf("load: %d requests failed and %d responses had no request id, want 0; errors: %q",
			seen.failed, seen.withoutID, firstErrors(samples, 3))
	}
	checkMix(t, seen, outageRequests)

	var before, during, after []loadSample
	for i, s := range samples {
		switch {
		case s.Start.Before(killed):
			if i >= outageWarmup {
				before = append(before, s)
			}
		case s.Start.Before(restarted):
			during = append(during, s)
		default:
			after = append(after, s)
		}
	}
	p99Before, nBefore := p99(before)
	p99During, nDuring := p99(during)
	p99After, nAfter := p99(after)
	t.Logf("p99 latency: before the outage %v (%d requests), during %v (%d), after %v (%d)",
		p99Before.Round(10*time.Microsecond), nBefore, p99During.Round(10*time.Microsecond), nDuring,
		p99After.Round(10*time.Microsecond), nAfter)
	if nBefore < 1000 || nDuring < 3000 {
		t.Fatalf("only %d requests before and %d during the outage, want at least 1000 and 3000 to compare", nBefore, nDuring)
	}
	t.Logf("p99 per second from the kill: %s", latencyProfile(samples, killed))
	latencyOK := true
	if limit := 2*p99Before + outageSlack; p99During > limit {
		latencyOK = false
		if last {
			t.Errorf("p99 during the redis outage = %v, want at most 2 x %v + %v = %v", p99During, p99Before, outageSlack, limit)
		}
	}

	// Redis came back empty: the publisher must notice the lost watermark
	// and send everything again from the spool, each event once.
	v := waitForDecisions(t, rig.client, auditStream, outageRequests, 30*time.Second)
	t.Logf("stream complete %v after redis restarted: %d entries, notes: %s",
		time.Since(restarted).Round(time.Millisecond), len(v.entries), v.describeNotes())
	if v.decisionN != outageRequests {
		t.Errorf("decision events = %d, want exactly %d", v.decisionN, outageRequests)
	}
	if extra := checkExactlyOnce(t, v, seen); extra > 0 {
		t.Errorf("%d decision events carry a request id the client never saw, want 0", extra)
	}
	v.checkGapFree(t)
	if lost := v.notesWithReason("events_lost"); len(lost) > 0 {
		t.Errorf("the stream declares lost events (%s), want none: the spool retains 10 minutes", v.describeNotes())
	}
	m := auditMetrics(t, rig.gw)
	if d := droppedTotal(m); d != 0 {
		t.Errorf("caddy_awra_audit_events_dropped_total = %v, want 0", d)
	}
	t.Logf("caddy_awra_audit_events_replayed_total = %v", m["caddy_awra_audit_events_replayed_total"])
	checkVerifyPasses(t, rig)
	return latencyOK
}

// latencyProfile returns the p99 latency of each second of samples,
// counted from ref, for example "-2s:1.6ms -1s:3.1ms 0s:2.2ms ...". It
// shows whether a high p99 is one burst, as when another process takes
// the CPU for a moment, or lasts as long as a phase of the test.
func latencyProfile(samples []loadSample, ref time.Time) string {
	windows := map[int][]loadSample{}
	lo, hi := 0, 0
	for _, s := range samples {
		d := s.Start.Sub(ref)
		w := int(d / time.Second)
		if d < 0 && d%time.Second != 0 {
			w-- // round down, so that second -1 holds the last second before ref
		}
		windows[w] = append(windows[w], s)
		lo, hi = min(lo, w), max(hi, w)
	}
	var parts []string
	for w := lo; w <= hi; w++ {
		if p, n := p99(windows[w]); n > 0 {
			parts = append(parts, fmt.Sprintf("%ds:%v", w, p.Round(100*time.Microsecond)))
		}
	}
	return strings.Join(parts, " ")
}
