package integrationtests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// inProcessStoreNotice is logged once when a webhook route has no Redis.
const inProcessStoreNotice = "webhook replay store is in-process; instances do not share it"

// largeBodyResult is what sendLargeBody observed.
type largeBodyResult struct {
	resp    response
	written int64         // body bytes the gateway's socket accepted
	elapsed time.Duration // from the first byte sent to the whole response
}

// sendLargeBody posts size bytes to path on a raw connection, with a
// Content-Length or chunked, and reads the response while the body is
// still being written, as a provider whose request is rejected early
// would see it. Writing stops when the gateway closes the connection.
func sendLargeBody(t *testing.T, gw *gateway, path string, header http.Header, size int64, chunked bool) largeBodyResult {
	t.Helper()
	conn, err := net.DialTimeout("tcp", gw.addr(), requestTimeout)
	if err != nil {
		t.Fatalf("dialing %s: %v", gw.addr(), err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(requestTimeout))

	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", path, gw.addr())
	for name, values := range header {
		for _, v := range values {
			fmt.Fprintf(&head, "%s: %s\r\n", name, v)
		}
	}
	if chunked {
		head.WriteString("Transfer-Encoding: chunked\r\n")
	} else {
		fmt.Fprintf(&head, "Content-Length: %d\r\n", size)
	}
	head.WriteString("Connection: close\r\n\r\n")

	start := time.Now()
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatalf("writing the request head: %v", err)
	}

	var written atomic.Int64
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		chunk := bytes.Repeat([]byte("a"), 64<<10)
		for sent := int64(0); sent < size; sent += int64(len(chunk)) {
			piece := chunk[:min(int64(len(chunk)), size-sent)]
			if chunked {
				if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(piece), piece); err != nil {
					return
				}
			} else if _, err := conn.Write(piece); err != nil {
				return
			}
			written.Add(int64(len(piece)))
		}
		if chunked {
			_, _ = io.WriteString(conn, "0\r\n\r\n")
		}
	}()

	httpResp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response to a %d-byte body: %v", size, err)
	}
	data, err := io.ReadAll(httpResp.Body)
	httpResp.Body.Close()
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	elapsed := time.Since(start)

	// Closing the connection ends the writer if the gateway has not.
	conn.Close()
	<-writerDone
	return largeBodyResult{
		resp:    response{Status: httpResp.StatusCode, Header: httpResp.Header, Body: data},
		written: written.Load(),
		elapsed: elapsed,
	}
}

// peakRSS returns the peak resident set size of process pid in bytes,
// from VmHWM in /proc/<pid>/status, or 0 when it cannot be read.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

func TestWebhookBodyLimit(t *testing.T) {
	t.Parallel()
	p := webhookProviders[0] // paystack
	secret := p.newSecret(t)
	up := startUpstream(t)
	gw := startGateway(t, gatewayConfig{
		Routes:   webhookRoute(p, "/hooks/paystack", "{{.Upstream}}", []string{secretEnv(t, secret)}, "max_body 1MiB"),
		Upstream: up,
	})
	s := &webhookSetup{p: p, gw: gw, up: up, secret: secret}

	t.Run("in-process store announced", func(t *testing.T) {
		found := 0
		for _, e := range gw.logEntries(t) {
			if e.str("msg") == inProcessStoreNotice {
				found++
				if e.str("level") != "info" {
					t.Errorf("in-process store notice at level %q, want info", e.str("level"))
				}
			}
		}
		if found != 1 {
			t.Errorf("in-process store notices in the log = %d, want 1", found)
		}
	})

	t.Run("exactly max_body", func(t *testing.T) {
		body := bytes.Repeat([]byte("b"), 1<<20)
		copy(body, newWebhookBody(t, "large"))
		s.expectForwarded(t, "1 MiB delivery", "/hooks/paystack", s.signNow(t, body), body)
	})
	t.Run("one byte over, declared", func(t *testing.T) {
		body := bytes.Repeat([]byte("c"), 1<<20+1)
		s.expectDenied(t, "1 MiB + 1 delivery", "/hooks/paystack", s.signNow(t, body), body, 413, "body_too_large")
	})
	t.Run("one byte over, chunked", func(t *testing.T) {
		body := bytes.Repeat([]byte("d"), 1<<20+1)
		s.expectDenied(t, "chunked 1 MiB + 1 delivery", "/hooks/paystack", s.signNow(t, body), body, 413, "body_too_large", postOptions{chunked: true})
	})

	// A 30 MB body is rejected without being read or held. The response
	// arrives while the client is still sending, the gateway accepts a
	// fraction of the bytes, and its peak memory barely moves.
	const size = 30 << 20
	rssBefore := peakRSS(gw.cmd.Process.Pid)
	for _, chunked := range []bool{false, true} {
		name := "30 MB with Content-Length"
		if chunked {
			name = "30 MB chunked"
		}
		t.Run(name, func(t *testing.T) {
			before := up.count()
			header := http.Header{p.signatureHeader: {strings.Repeat("0", 128)}}
			res := sendLargeBody(t, gw, "/hooks/paystack", header, size, chunked)
			checkProblem(t, name, res.resp, 413, "body_too_large")
			if up.count() != before {
				t.Errorf("%s: the upstream received a request", name)
			}
			if res.elapsed > 3*time.Second {
				t.Errorf("%s: answered after %v, want within 3s", name, res.elapsed)
			}
			// Loopback socket buffers hold a few MiB; far less than
			// the body must have been accepted.
			if res.written > 16<<20 {
				t.Errorf("%s: the gateway accepted %d of %d bytes, want under 16 MiB", name, res.written, size)
			}
			t.Logf("%s: 413 after %v, %d bytes accepted", name, res.elapsed.Round(time.Millisecond), res.written)
		})
	}
	rssAfter := peakRSS(gw.cmd.Process.Pid)
	if rssBefore == 0 || rssAfter == 0 {
		t.Log("peak RSS not readable from /proc; skipping the memory check")
	} else {
		t.Logf("gateway peak RSS: %d MiB before, %d MiB after the 30 MB bodies", rssBefore>>20, rssAfter>>20)
		if grew := rssAfter - rssBefore; grew > 16<<20 {
			t.Errorf("gateway peak RSS grew by %d MiB during the 30 MB bodies, want under 16 MiB", grew>>20)
		}
	}

	t.Run("healthy afterwards", func(t *testing.T) {
		body := newWebhookBody(t, "after-large")
		s.expectForwarded(t, "delivery after the large bodies", "/hooks/paystack", s.signNow(t, body), body)
	})
}
