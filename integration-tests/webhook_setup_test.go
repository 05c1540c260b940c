package integrationtests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// webhookRoute renders a handle block that guards path with awra_webhook
// for p and proxies to upstream (a host:port or "{{.Upstream}}").
func webhookRoute(p webhookProvider, path, upstream string, secretEnvs []string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "handle %s {\n\tawra_webhook %s {\n", path, p.name)
	for _, env := range secretEnvs {
		fmt.Fprintf(&b, "\t\tsecret {env.%s}\n", env)
	}
	if p.options != "" {
		b.WriteString("\t\t" + p.options + "\n")
	}
	for _, line := range extra {
		b.WriteString("\t\t" + line + "\n")
	}
	fmt.Fprintf(&b, "\t}\n\treverse_proxy %s\n}\n", upstream)
	return b.String()
}

var bodySeq atomic.Int64

// newWebhookBody returns a JSON event body that no other test sends.
func newWebhookBody(t testing.TB, event string) []byte {
	t.Helper()
	return fmt.Appendf(nil, `{"event":%q,"data":{"id":"evt_%d_%s","amount":12500,"currency":"NGN"}}`,
		event, bodySeq.Add(1), randomText(t, 6))
}

// newMessageID returns a fresh message id for providers that sign one.
func newMessageID(t testing.TB) string {
	return "msg_" + randomText(t, 10)
}

// stampAt returns Unix seconds as the 10 digits a provider sends.
func stampAt(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// stampOffset returns a timestamp offset seconds from now. It rounds to
// whole seconds in the direction that keeps the test stable: on arrival,
// the distance from the gateway clock is at most |offset| for an offset
// inside the window, and at least |offset| minus the travel time for one
// outside it.
func stampOffset(offset int64, outside bool) string {
	now := time.Now()
	base := now.Unix() // floor
	if (offset < 0) != outside {
		base++ // ceil: in the past and inside, or in the future and outside
	}
	return strconv.FormatInt(base+offset, 10)
}

// postOptions tune postWebhook.
type postOptions struct {
	client  *http.Client // default plainClient()
	chunked bool         // send without Content-Length
}

// postWebhook sends body with the headers to gw and reads the response.
func postWebhook(t testing.TB, gw *gateway, path string, header http.Header, body []byte, opts ...postOptions) response {
	t.Helper()
	resp, err := tryPostWebhook(gw, path, header, body, opts...)
	if err != nil {
		t.Fatal(err)
	}
	checkNoTokens(t, "the response body of POST "+path, resp.Body)
	return resp
}

// tryPostWebhook is postWebhook for goroutines other than the test's: it
// returns errors instead of failing the test.
func tryPostWebhook(gw *gateway, path string, header http.Header, body []byte, opts ...postOptions) (response, error) {
	var o postOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	c := o.client
	if c == nil {
		c = plainClient()
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()

	var reader io.Reader = bytes.NewReader(body)
	if o.chunked {
		// A reader of unknown length makes the client send chunks.
		reader = io.MultiReader(bytes.NewReader(body[:len(body)/2]), bytes.NewReader(body[len(body)/2:]))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gw.url(path), reader)
	if err != nil {
		return response{}, fmt.Errorf("building POST %s: %w", path, err)
	}
	if o.chunked {
		req.ContentLength = -1
	}
	for name, values := range header {
		req.Header[name] = append([]string(nil), values...)
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("POST %s: %s", path, redact(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("POST %s: reading the body: %w", path, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// checkDuplicateAnswer checks the gateway's 200 for an event that was
// already delivered.
func checkDuplicateAnswer(t testing.TB, request string, resp response) {
	t.Helper()
	var body struct {
		Status    string `json:"status"`
		RequestID string `json:"request_id"`
	}
	if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &body) != nil || body.Status != "duplicate" || body.RequestID == "" {
		t.Errorf("%s = %s, want 200 {\"status\":\"duplicate\"} with a request_id", request, resp.describe())
	}
}

// checkForwarded checks that the upstream's last request carries exactly
// body with a matching Content-Length and the headers sent, the
// signature headers included.
func checkForwarded(t testing.TB, request string, up *upstream, body []byte, sent http.Header) {
	t.Helper()
	got := up.last(t)
	if !bytes.Equal(got.Body, body) {
		t.Errorf("%s: upstream body = %q, want the %d bytes sent", request, got.Body, len(body))
	}
	if cl := got.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Errorf("%s: upstream Content-Length = %q, want %d", request, cl, len(body))
	}
	if te := got.Header.Get("Transfer-Encoding"); te != "" {
		t.Errorf("%s: upstream Transfer-Encoding = %q, want none", request, te)
	}
	for name, values := range sent {
		if name == "X-Forwarded-For" {
			continue // the proxy appends the peer
		}
		if g := got.Header.Values(name); strings.Join(g, "\n") != strings.Join(values, "\n") {
			t.Errorf("%s: upstream %s = %q, want %q", request, name, g, values)
		}
	}
}

// signWithCLI runs 'awragate webhook sign' for p with the secret in
// secretEnvName and returns the printed headers.
func signWithCLI(t testing.TB, p webhookProvider, secretEnvName, stamp, id string, body []byte) http.Header {
	t.Helper()
	args := []string{"webhook", "sign", "--provider", p.name, "--secret-env", secretEnvName}
	if stamp != "" {
		args = append(args, "--timestamp", stamp)
	}
	if id != "" {
		args = append(args, "--id", id)
	}
	args = append(args, p.cliFlags...)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.binary, args...)
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("awragate %s: %v; stderr: %s", strings.Join(args, " "), err, redact(stderr.String()))
	}
	checkNoTokens(t, "the output of awragate webhook sign", append(stdout.Bytes(), stderr.Bytes()...))

	h := http.Header{}
	for line := range strings.Lines(stdout.String()) {
		name, value, ok := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
		if !ok || name == "" {
			t.Fatalf("awragate webhook sign printed %q, want 'Name: value' lines", line)
		}
		h.Add(name, value)
	}
	return h
}

// startDelayedUpstream starts a recording upstream that waits delay before
// it reads each request, so that concurrent deliveries overlap.
func startDelayedUpstream(t testing.TB, delay time.Duration) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting the delayed upstream: %v", err)
	}
	u := &upstream{ln: ln, response: defaultUpstreamResponse()}
	u.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(delay)
			u.serveHTTP(w, r)
		}),
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
