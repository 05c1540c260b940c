package integrationtests

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/policy/audit"
)

// streamView is the audit stream as read back at one moment.
type streamView struct {
	entries   []audit.Entry
	decisions map[string]int // request_id -> decision events that carry it
	decisionN int            // decision events (modules api_key, signed_url, webhook)
	noID      int            // decision events without a request id
	notes     []audit.Entry  // module audit: gaps, unclean restarts
	admin     []audit.Entry  // module admin: key changes
	malformed int
	seqs      map[string][]uint64 // instance -> seqs in stream order
	watermark map[string]uint64
}

// readStreamView reads the watermarks and then the whole stream.
func readStreamView(t *testing.T, c *redis.Client, stream string) *streamView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	marks, err := audit.ReadWatermarks(ctx, c, stream)
	if err != nil {
		t.Fatalf("reading the watermarks: %v", err)
	}
	v := &streamView{decisions: map[string]int{}, seqs: map[string][]uint64{}, watermark: marks}
	err = audit.ReadStream(ctx, c, stream, "", 5000, func(e audit.Entry) error {
		v.entries = append(v.entries, e)
		if e.Err != nil {
			v.malformed++
			return nil
		}
		ev := &e.Event
		v.seqs[ev.Instance] = append(v.seqs[ev.Instance], ev.Seq)
		switch ev.Module {
		case audit.ModuleAudit:
			v.notes = append(v.notes, e)
		case audit.ModuleAdmin:
			v.admin = append(v.admin, e)
		default:
			v.decisionN++
			if ev.RequestID == "" {
				v.noID++
			} else {
				v.decisions[ev.RequestID]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	return v
}

// settled reports whether every instance's watermark equals the last seq
// in the stream, which holds once the publishers have caught up.
func (v *streamView) settled() bool {
	for inst, seqs := range v.seqs {
		if len(seqs) == 0 || v.watermark[inst] != seqs[len(seqs)-1] {
			return false
		}
	}
	return len(v.seqs) > 0
}

// waitForDecisions polls the stream until it holds at least want decision
// events and has stopped changing: the watermarks match the last seqs and
// two reads 300 ms apart agree. It fails the test after timeout.
func waitForDecisions(t *testing.T, c *redis.Client, stream string, want int, timeout time.Duration) *streamView {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *streamView
	for {
		v := readStreamView(t, c, stream)
		if v.decisionN >= want && v.settled() && last != nil && len(last.entries) == len(v.entries) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds %d decision events (%d entries) after %v, want %d and a settled stream",
				v.decisionN, len(v.entries), timeout, want)
		}
		last = v
		time.Sleep(300 * time.Millisecond)
	}
}

// checkGapFree checks that each instance's seqs run 1, 2, 3, ... in stream
// order, without a gap or a repeat.
func (v *streamView) checkGapFree(t *testing.T) {
	t.Helper()
	if v.malformed > 0 {
		t.Errorf("the stream holds %d malformed entries, want 0", v.malformed)
	}
	for inst, seqs := range v.seqs {
		for i, seq := range seqs {
			if seq != uint64(i+1) {
				t.Errorf("instance %s: entry %d has seq %d, want %d (seqs gap-free from 1)", inst, i+1, seq, i+1)
				break
			}
		}
	}
}

// onceCheck is the result of matching the client's request ids with the
// stream's.
type onceCheck struct {
	missing []string // seen by the client, not in the stream
	doubled []string // in the stream more than once
	extra   int      // in the stream, not seen by the client
}

// matchRequestIDs matches the ids the client saw with the stream's
// decision events.
func matchRequestIDs(v *streamView, seen loadSummary) onceCheck {
	var r onceCheck
	for id := range seen.ids {
		if v.decisions[id] == 0 {
			r.missing = append(r.missing, id)
		}
	}
	for id, n := range v.decisions {
		if n > 1 {
			r.doubled = append(r.doubled, id)
		}
		if seen.ids[id] == 0 {
			r.extra++
		}
	}
	slices.Sort(r.missing)
	slices.Sort(r.doubled)
	return r
}

// checkExactlyOnce fails the test unless every request id the client saw
// is in the stream exactly once and no id is there twice. It returns the
// number of stream ids that the client never saw, which tests bound
// themselves.
func checkExactlyOnce(t *testing.T, v *streamView, seen loadSummary) int {
	t.Helper()
	r := matchRequestIDs(v, seen)
	if len(r.missing) > 0 {
		t.Errorf("%d request ids seen by the client have no audit event, e.g. %q", len(r.missing), r.missing[:min(5, len(r.missing))])
	}
	if len(r.doubled) > 0 {
		t.Errorf("%d request ids have more than one audit event, e.g. %q", len(r.doubled), r.doubled[:min(5, len(r.doubled))])
	}
	for id, n := range seen.ids {
		if n > 1 {
			t.Errorf("request id %q was returned to the client %d times, want once", id, n)
			break
		}
	}
	return r.extra
}

// notesWithReason returns the audit notes with reason.
func (v *streamView) notesWithReason(reason string) []audit.Entry {
	var out []audit.Entry
	for _, e := range v.notes {
		if string(e.Event.Reason) == reason {
			out = append(out, e)
		}
	}
	return out
}

// describeNotes lists the audit notes for failure messages and logs.
func (v *streamView) describeNotes() string {
	var parts []string
	for _, e := range v.notes {
		parts = append(parts, fmt.Sprintf("%s seq %d: %s %s", e.Event.Instance, e.Event.Seq, e.Event.Reason, e.Event.Detail))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// auditMetrics returns the gateway's caddy_awra_audit_* samples from the
// admin /metrics endpoint, keyed by name with labels, for example
// `caddy_awra_audit_events_dropped_total{reason="queue_full"}`.
func auditMetrics(t *testing.T, g *gateway) map[string]float64 {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", g.ports.Admin)
	resp, err := plainClient().Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", url, resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "caddy_awra_audit_") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(value, 64)
		if err == nil {
			out[name] = f
		}
	}
	return out
}

// droppedTotal sums caddy_awra_audit_events_dropped_total over reasons.
func droppedTotal(m map[string]float64) float64 {
	var sum float64
	for name, v := range m {
		if strings.HasPrefix(name, "caddy_awra_audit_events_dropped_total") {
			sum += v
		}
	}
	return sum
}
