package integrationtests

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowUpstream sends no response until released, so that a request through
// the gateway outlives the gateway's grace period. arrived receives one
// value per request that reached it.
type slowUpstream struct {
	srv     *http.Server
	ln      net.Listener
	arrived chan struct{}
	release chan struct{}
}

func startSlowUpstream(t *testing.T) *slowUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting the slow upstream: %v", err)
	}
	u := &slowUpstream{ln: ln, arrived: make(chan struct{}, 8), release: make(chan struct{})}
	u.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u.arrived <- struct{}{}
			select {
			case <-u.release:
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
			w.WriteHeader(http.StatusOK)
		}),
	}
	go func() {
		if err := u.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("slow upstream stopped: %v", err)
		}
	}()
	t.Cleanup(func() {
		close(u.release)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := u.srv.Shutdown(ctx); err != nil {
			u.srv.Close()
		}
	})
	return u
}

// An allowed request is recorded when the upstream has responded. When the
// upstream is still silent after the grace period and the pipeline's own
// wait, the gateway stops anyway. The decision must then be declared by an
// events_dropped event (closed=1) instead of being lost without a trace.
func TestAuditUnfinishedAtStopDeclared(t *testing.T) {
	rig := newAuditRig(t)
	slow := startSlowUpstream(t)
	rig.cfg = rig.config(`handle /api/slow/* {
		awra_api_key {
			scopes inventory:read
		}
		reverse_proxy ` + slow.ln.Addr().String() + `
	}
`)
	rig.start(t)

	c := &http.Client{Timeout: 30 * time.Second}
	req, err := http.NewRequest(http.MethodGet, rig.gw.url("/api/slow/report"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = apiKey(rig.reader.Token)
	done := make(chan error, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-slow.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the slow upstream within 10s")
	}

	// A request that completes before the stop is recorded as usual.
	if r := get(t, c, rig.gw.url("/api/inventory/items"), apiKey(rig.reader.Token)); r.Status != http.StatusOK {
		t.Fatalf("GET /api/inventory/items = %d, want 200", r.Status)
	}

	stopped := time.Now()
	rig.gw.signalAndWait(t, syscall.SIGTERM)
	t.Logf("gateway exited %v after SIGTERM (grace period 2s, then up to 1s for unfinished decisions)",
		time.Since(stopped).Round(time.Millisecond))
	if err := <-done; err == nil {
		t.Log("the slow request got a response before the gateway exited")
	}

	v := readStreamView(t, rig.client, auditStream)
	gaps := v.notesWithReason("events_dropped")
	if len(gaps) != 1 || !strings.Contains(gaps[0].Event.Detail, "closed=1") ||
		!strings.HasPrefix(gaps[0].Event.Detail, "dropped=1 ") {
		t.Fatalf("audit notes = %s, want one events_dropped with dropped=1 and closed=1", v.describeNotes())
	}
	if v.decisionN != 1 {
		t.Errorf("decision events = %d, want 1 (the completed request)", v.decisionN)
	}
	v.checkGapFree(t)

	// The declared drop verifies, and the restarted gateway continues the
	// chain without an unclean_restart note.
	rig.gw.restart(t, rig.env())
	if r := get(t, c, rig.gw.url("/api/inventory/items"), apiKey(rig.reader.Token)); r.Status != http.StatusOK {
		t.Fatalf("GET after the restart = %d, want 200", r.Status)
	}
	v = waitForDecisions(t, rig.client, auditStream, 2, 20*time.Second)
	if n := len(v.notesWithReason("unclean_restart")); n != 0 {
		t.Errorf("unclean_restart notes = %d after a graceful stop, want 0", n)
	}
	if out := checkVerifyPasses(t, rig); !strings.Contains(out, "dropped 1,") {
		t.Errorf("verify output does not report the declared drop:\n%s", out)
	}
}
