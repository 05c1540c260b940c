package integrationtests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// auditLoad describes a bounded load on a rig's gateway.
type auditLoad struct {
	Requests int     // total requests to send
	Workers  int     // concurrent clients
	Rate     float64 // requests per second over all workers; 0 means as fast as possible
}

// loadSample is one request as the client saw it.
type loadSample struct {
	Start     time.Time
	Latency   time.Duration
	Status    int    // 0 when the request failed without a response
	RequestID string // from the echo header or the problem body; empty when none
	Err       string // transport error, empty on a response
}

// loadRun is a load in progress. Done counts finished requests and may be
// read while the load runs.
type loadRun struct {
	Done atomic.Int64

	finished chan struct{}
	mu       sync.Mutex
	samples  []loadSample
}

// auditRequest returns request i of the mix, which repeats every sixteen
// requests. Seven are allowed API-key requests, one of them with a Bearer
// header. Seven are API-key denials: a missing key, a wrong secret and a
// missing scope. Two are signed-URL requests, one allowed, one unsigned.
func (rig *auditRig) auditRequest(t testing.TB, base, wrongToken string, i int) *http.Request {
	target := "/api/inventory/item-" + strconv.Itoa(i)
	header := http.Header{}
	switch i % 16 {
	case 0, 1, 2, 3, 4, 5:
		header.Set("X-Api-Key", rig.reader.Token)
	case 6:
		header.Set("Authorization", "Bearer "+rig.reader.Token)
	case 7:
		target = mintURL(t, rig.urlKey, http.MethodGet, hostOf(base), "/files/report-"+strconv.Itoa(i)+".pdf", time.Now().Add(10*time.Minute))
	case 8, 9:
		// no credential: key_missing
	case 10, 11:
		header.Set("X-Api-Key", wrongToken)
	case 12, 13:
		header.Set("X-Api-Key", rig.reader.Token)
		target = "/api/sales/order-" + strconv.Itoa(i)
	case 14:
		header.Set("Authorization", "Bearer "+wrongToken)
	case 15:
		target = "/files/unsigned-" + strconv.Itoa(i) + ".pdf"
	}
	req, err := http.NewRequest(http.MethodGet, base+target, nil)
	if err != nil {
		panic(fmt.Sprintf("building request %d: %v", i, err))
	}
	req.Header = header
	return req
}

// hostOf returns the host:port of an http:// base URL.
func hostOf(base string) string {
	return base[len("http://"):]
}

// loadClient returns a client that keeps one idle connection per worker,
// so a load reuses its connections instead of running out of ports.
func loadClient(t testing.TB, workers int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: requestTimeout}).DialContext,
		MaxIdleConns:        workers * 2,
		MaxIdleConnsPerHost: workers * 2,
		DisableCompression:  true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: requestTimeout}
}

// startLoad sends spec.Requests requests of the mix to the rig's gateway
// in the background. The load stops early when ctx ends. Failed requests
// are recorded, never fatal, because some tests stop the gateway on
// purpose.
func (rig *auditRig) startLoad(ctx context.Context, t *testing.T, spec auditLoad) *loadRun {
	t.Helper()
	base := rig.gw.url("")
	wrong := newToken(t, rig.reader.ID)
	client := loadClient(t, spec.Workers)

	// Requests are built up front: minting signed URLs calls t.Fatal on
	// failure, which only the test goroutine may do.
	reqs := make([]*http.Request, spec.Requests)
	for i := range reqs {
		reqs[i] = rig.auditRequest(t, base, wrong, i)
	}

	var limiter *rate.Limiter
	if spec.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(spec.Rate), 1)
	}
	run := &loadRun{finished: make(chan struct{}), samples: make([]loadSample, 0, spec.Requests)}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range spec.Workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= spec.Requests || ctx.Err() != nil {
					return
				}
				if limiter != nil && limiter.Wait(ctx) != nil {
					return
				}
				s := sendLoadRequest(ctx, client, reqs[i])
				run.mu.Lock()
				run.samples = append(run.samples, s)
				run.mu.Unlock()
				run.Done.Add(1)
			}
		})
	}
	go func() {
		wg.Wait()
		close(run.finished)
	}()
	return run
}

// wait blocks until every worker has stopped, failing the test after
// timeout, and returns the samples in the order they finished.
func (run *loadRun) wait(t *testing.T, timeout time.Duration) []loadSample {
	t.Helper()
	select {
	case <-run.finished:
	case <-time.After(timeout):
		t.Fatalf("the load did not finish within %v (%d requests done)", timeout, run.Done.Load())
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	return slices.Clone(run.samples)
}

// waitDone blocks until n requests have finished or timeout passes.
func (run *loadRun) waitDone(t *testing.T, n int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for run.Done.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests finished within %v", run.Done.Load(), n, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sendLoadRequest sends req and reads the request id from the response.
func sendLoadRequest(ctx context.Context, c *http.Client, req *http.Request) loadSample {
	s := loadSample{Start: time.Now()}
	resp, err := c.Do(req.Clone(ctx))
	if err != nil {
		s.Latency, s.Err = time.Since(s.Start), redact(err.Error())
		return s
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	s.Latency, s.Status = time.Since(s.Start), resp.StatusCode
	if err != nil {
		s.Err = redact(err.Error())
		return s
	}
	if id := resp.Header.Get(echoRequestIDHeader); id != "" {
		s.RequestID = id
		return s
	}
	var p problem
	if json.Unmarshal(body, &p) == nil {
		s.RequestID = p.RequestID
	}
	return s
}

// loadSummary counts what a load's client saw.
type loadSummary struct {
	ids       map[string]int // request id -> responses that carried it
	byStatus  map[int]int
	failed    int // no response, or a response that could not be read
	withoutID int // a response without a request id
}

func summarizeLoad(samples []loadSample) loadSummary {
	s := loadSummary{ids: make(map[string]int, len(samples)), byStatus: map[int]int{}}
	for _, x := range samples {
		switch {
		case x.Err != "":
			s.failed++
		case x.RequestID == "":
			s.withoutID++
		default:
			s.ids[x.RequestID]++
		}
		if x.Err == "" {
			s.byStatus[x.Status]++
		}
	}
	return s
}

// p99 returns the 99th percentile latency of the samples that got a
// response, and how many there were.
func p99(samples []loadSample) (time.Duration, int) {
	var lat []time.Duration
	for _, s := range samples {
		if s.Err == "" {
			lat = append(lat, s.Latency)
		}
	}
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	return lat[(len(lat)*99+99)/100-1], len(lat)
}

// firstErrors returns up to n distinct transport errors of the samples,
// for failure messages.
func firstErrors(samples []loadSample, n int) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range samples {
		if s.Err != "" && !seen[s.Err] && len(out) < n {
			seen[s.Err] = true
			out = append(out, s.Err)
		}
	}
	return out
}
