package integrationtests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// receivedRequest is one request as an upstream received it.
type receivedRequest struct {
	Method     string
	RequestURI string // raw request target, as sent on the wire
	Header     http.Header
	Body       []byte
	Trailer    http.Header // trailers that arrived after the body
	RemoteAddr string
}

// dump renders the whole request as text for the secret scans.
func (r receivedRequest) dump() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.RequestURI)
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range r.Header[name] {
			fmt.Fprintf(&b, "%s: %s\n", name, v)
		}
	}
	b.WriteString("\n")
	b.Write(r.Body)
	for name, values := range r.Trailer {
		for _, v := range values {
			fmt.Fprintf(&b, "\ntrailer %s: %s", name, v)
		}
	}
	return b.Bytes()
}

// upstreamResponse is what an upstream sends back to every request.
type upstreamResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// defaultUpstreamResponse is a small JSON 200, the reply of a business API.
func defaultUpstreamResponse() upstreamResponse {
	return upstreamResponse{
		Status: http.StatusOK,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   []byte(`{"service":"integration-upstream"}`),
	}
}

// upstream is an HTTP server on a free 127.0.0.1 port that stands in for
// the business workspace behind the gateway. It records every request and
// answers with a settable response. Its methods are safe for concurrent
// use.
type upstream struct {
	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	received []receivedRequest
	response upstreamResponse
}

// startUpstream starts an upstream that the test stops at cleanup. Its
// records stay readable after the stop for the end-of-suite secret scan.
func startUpstream(t testing.TB) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting the upstream: %v", err)
	}
	u := &upstream{ln: ln, response: defaultUpstreamResponse()}
	u.srv = &http.Server{
		Handler:           http.HandlerFunc(u.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		if err := u.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("upstream %s stopped: %v", ln.Addr(), err)
		}
	}()
	watchUpstream(u)

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := u.srv.Shutdown(ctx); err != nil {
			u.srv.Close()
		}
	})
	return u
}

func (u *upstream) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "reading the request body failed", http.StatusBadRequest)
		return
	}

	u.mu.Lock()
	u.received = append(u.received, receivedRequest{
		Method:     r.Method,
		RequestURI: r.RequestURI,
		Header:     r.Header.Clone(),
		Body:       body,
		Trailer:    r.Trailer.Clone(),
		RemoteAddr: r.RemoteAddr,
	})
	resp := u.response
	u.mu.Unlock()

	for name, values := range resp.Header {
		w.Header()[name] = append([]string(nil), values...)
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// addr returns the upstream's host:port, for reverse_proxy.
func (u *upstream) addr() string { return u.ln.Addr().String() }

// setResponse changes the reply to every later request.
func (u *upstream) setResponse(resp upstreamResponse) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.response = resp
}

// requests returns a copy of the requests received so far, oldest first.
func (u *upstream) requests() []receivedRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]receivedRequest(nil), u.received...)
}

// count returns how many requests were received so far.
func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.received)
}

// last returns the most recent request, failing the test when none came.
func (u *upstream) last(t testing.TB) receivedRequest {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.received) == 0 {
		t.Fatal("the upstream received no request")
	}
	return u.received[len(u.received)-1]
}
