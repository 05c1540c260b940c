package integrationtests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// requestTimeout bounds every request a test sends.
const requestTimeout = 10 * time.Second

// clientFrom returns an HTTP client whose connections leave from localIP,
// so the gateway sees that address as the peer. An empty localIP lets the
// kernel choose. It never uses a proxy from the environment.
func clientFrom(t testing.TB, localIP string) *http.Client {
	t.Helper()
	dialer := &net.Dialer{Timeout: requestTimeout}
	if localIP != "" {
		ip := net.ParseIP(localIP)
		if ip == nil {
			t.Fatalf("clientFrom(%q): not an IP address", localIP)
		}
		dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}
	tr := &http.Transport{
		Proxy:        nil,
		DialContext:  dialer.DialContext,
		MaxIdleConns: 4,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: requestTimeout}
}

var plainClient = sync.OnceValue(func() *http.Client {
	return &http.Client{
		Transport: &http.Transport{Proxy: nil},
		Timeout:   requestTimeout,
	}
})

// response is a fully read HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// describe summarizes a response for failure messages: the status and,
// for a problem body, its reason. Generated secrets are redacted.
func (r response) describe() string {
	var p struct{ Reason string }
	if json.Unmarshal(r.Body, &p) == nil && p.Reason != "" {
		return fmt.Sprintf("%d %s", r.Status, p.Reason)
	}
	body := string(r.Body)
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return fmt.Sprintf("%d %s", r.Status, redact(body))
}

// send makes a request with the given headers, where a Host header sets
// the request's host, and reads the whole response. It fails the test when the response body holds a generated
// token.
func send(t testing.TB, c *http.Client, method, url string, header http.Header) response {
	t.Helper()
	resp, err := trySend(c, method, url, header)
	if err != nil {
		t.Fatal(err)
	}
	checkNoTokens(t, "the response body of "+method+" "+redact(url), resp.Body)
	return resp
}

// trySend sends one request and reads the whole response. Its errors
// have the URL and the error text redacted.
func trySend(c *http.Client, method, url string, header http.Header) (response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return response{}, fmt.Errorf("building %s %s: %v", method, redact(url), err)
	}
	for name, values := range header {
		req.Header[name] = append([]string(nil), values...)
	}
	if host := header.Get("Host"); host != "" {
		req.Host = host
	}

	resp, err := c.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %v", method, redact(url), redact(err.Error()))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading the body: %v", method, redact(url), err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// getAfterReload sends a GET right after a config reload, when the old
// server may close connections it has just accepted. It retries a failed
// connection on a new one up to five times; any HTTP status ends it.
func getAfterReload(t testing.TB, c *http.Client, url string, header http.Header) response {
	t.Helper()
	var lastErr error
	for range 5 {
		c.CloseIdleConnections()
		resp, err := trySend(c, http.MethodGet, url, header)
		if err == nil {
			checkNoTokens(t, "the response body of GET "+redact(url), resp.Body)
			return resp
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET after a reload failed five times, last: %v", lastErr)
	return response{}
}

// get sends a GET request with the given headers.
func get(t testing.TB, c *http.Client, url string, header http.Header) response {
	t.Helper()
	return send(t, c, http.MethodGet, url, header)
}

// bearer returns the headers that carry token as a Bearer credential.
func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// apiKey returns the headers that carry token in X-API-Key.
func apiKey(token string) http.Header {
	return http.Header{"X-Api-Key": {token}}
}

// sendRaw writes request exactly as given on a new connection to addr and
// reads one response. Use it for request targets that Go's client would
// clean or reject. request must end with the blank line, and should ask
// for "Connection: close".
func sendRaw(t testing.TB, addr, request string) response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, requestTimeout)
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(requestTimeout))

	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatalf("writing a raw request to %s: %v", addr, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response to a raw request from %s: %v", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response body from %s: %v", addr, err)
	}
	checkNoTokens(t, "the response body of a raw request", body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// rawGet sends "GET target HTTP/1.1" with the headers, unchanged.
func rawGet(t testing.TB, addr, target string, header http.Header) response {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", target, addr)
	names := make([]string, 0, len(header))
	for name := range header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range header[name] {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	b.WriteString("Connection: close\r\n\r\n")
	return sendRaw(t, addr, b.String())
}

// problem is the application/problem+json body of a denial.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Reason    string `json:"reason"`
	RequestID string `json:"request_id"`
}

// checkProblem checks that resp is a denial with the status and reason:
// Content-Type application/problem+json, every member present, the status
// member equal to the HTTP status, a request id, and on 401 a
// WWW-Authenticate challenge: Signature for the webhook reasons, else
// Bearer. request names the request in failure
// messages. It returns the decoded body.
func checkProblem(t testing.TB, request string, resp response, wantStatus int, wantReason string) problem {
	t.Helper()
	if resp.Status != wantStatus {
		t.Errorf("%s = %s, want %d %s", request, resp.describe(), wantStatus, wantReason)
	}

	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/problem+json" {
		// The body is not a problem, so checking its members would only
		// repeat this failure.
		t.Errorf("%s: Content-Type = %q, want application/problem+json", request, ct)
		return problem{}
	}

	var members map[string]any
	if err := json.Unmarshal(resp.Body, &members); err != nil {
		t.Fatalf("%s: decoding the problem body: %v; body: %s", request, err, redact(string(resp.Body)))
	}
	for _, name := range []string{"type", "title", "status", "detail", "reason", "request_id"} {
		if _, ok := members[name]; !ok {
			t.Errorf("%s: the problem body has no %q member", request, name)
		}
	}

	var p problem
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: decoding the problem body: %v", request, err)
	}
	if p.Reason != wantReason {
		t.Errorf("%s: reason = %q, want %q", request, p.Reason, wantReason)
	}
	if p.Status != resp.Status {
		t.Errorf("%s: status member = %d, want the HTTP status %d", request, p.Status, resp.Status)
	}
	if p.RequestID == "" {
		t.Errorf("%s: request_id is empty", request)
	}
	if p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Errorf("%s: type = %q, title = %q, detail = %q, want all non-empty", request, p.Type, p.Title, p.Detail)
	}

	challenge := resp.Header.Get("WWW-Authenticate")
	wantScheme := "Bearer"
	if strings.HasPrefix(wantReason, "signature_") || wantReason == "timestamp_out_of_tolerance" {
		wantScheme = "Signature"
	}
	if wantStatus == http.StatusUnauthorized && !strings.HasPrefix(challenge, wantScheme+" ") {
		t.Errorf("%s: WWW-Authenticate = %q, want a %s challenge", request, challenge, wantScheme)
	}
	return p
}

// checkAllowed checks that resp is the upstream's default 200.
func checkAllowed(t testing.TB, request string, resp response) {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Errorf("%s = %s, want 200 from the upstream", request, resp.describe())
		return
	}
	if want := defaultUpstreamResponse().Body; !bytes.Equal(resp.Body, want) {
		t.Errorf("%s: body = %q, want the upstream's %q", request, resp.Body, want)
	}
}
