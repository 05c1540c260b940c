package integrationtests

import (
	"net/http"
	"strings"
	"testing"
)

// isControlPiece reports whether a raw query piece is a control parameter,
// judged by the "X-Awra-" prefix of its raw name, which also catches a
// percent-encoded name such as X-Awra-Key-I%64.
func isControlPiece(piece string) bool {
	name, _, _ := strings.Cut(piece, "=")
	return strings.HasPrefix(name, "X-Awra-")
}

// withoutControl returns the pieces that are not control parameters, in
// order.
func withoutControl(pieces []string) []string {
	var out []string
	for _, p := range pieces {
		if !isControlPiece(p) {
			out = append(out, p)
		}
	}
	return out
}

func TestSignedURLForwarding(t *testing.T) {
	t.Parallel()
	key := newURLKey(t, "k-files")
	gw, up := startSignedURLGateway(t, key)
	host := gw.addr()

	// checkForwarded checks the request the upstream received last: its
	// exact request target and the identity headers set by the gateway.
	checkForwarded := func(t *testing.T, request, wantURI string) receivedRequest {
		t.Helper()
		got := up.last(t)
		if got.RequestURI != wantURI {
			t.Errorf("%s: upstream request URI = %q, want %q", request, got.RequestURI, wantURI)
		}
		if strings.Contains(got.RequestURI, "X-Awra-") {
			t.Errorf("%s: upstream request URI %q still has a control parameter", request, got.RequestURI)
		}
		if v := got.Header.Values("X-Awra-Url-Key-Id"); len(v) != 1 || v[0] != key.ID {
			t.Errorf("%s: upstream X-Awra-Url-Key-Id = %q, want [%q]", request, v, key.ID)
		}
		// Without request_id_header no request id goes upstream.
		if v, ok := got.Header["X-Awra-Request-Id"]; ok {
			t.Errorf("%s: upstream X-Awra-Request-Id = %q, want none", request, v)
		}
		return got
	}

	tests := []struct {
		name   string
		target string // path and query before signing
		// arrange reorders or renames the pieces of the signed query. When
		// it is nil, the link is sent as minted, control parameters last.
		arrange func(pieces []string) []string
	}{
		{
			name:   "plus, %20 and lower-case escapes kept",
			target: "/files/exports/q1%20report%7efinal.csv?b=1+2&a=%20x&c=%c3%a9&flag&empty=&z=%2B&q=a%26b%3Dc%3Bd",
		},
		{
			name:   "repeated parameters keep their order",
			target: "/files/list?tag=b&tag=a&tag=b&page=2",
		},
		{
			name:   "empty pieces kept",
			target: "/files/list?a=1&&b=2&",
		},
		{
			name:   "only control parameters",
			target: "/files/report.pdf",
		},
		{
			name:   "control parameters first",
			target: "/files/report.pdf?x=1&y=2",
			arrange: func(p []string) []string {
				return append(p[len(p)-3:], p[:len(p)-3]...)
			},
		},
		{
			name:   "control parameters scattered",
			target: "/files/report.pdf?x=1&y=2&z=3",
			arrange: func(p []string) []string {
				// x, kid, y, expires, z, signature
				return []string{p[0], p[3], p[1], p[4], p[2], p[5]}
			},
		},
		{
			name:   "every parameter reordered",
			target: "/files/report.pdf?x=1&y=2&z=3",
			arrange: func(p []string) []string {
				// signature, z, expires, x, kid, y
				return []string{p[5], p[2], p[4], p[0], p[3], p[1]}
			},
		},
		{
			name:   "percent-encoded control parameter name",
			target: "/files/report.pdf?x=1",
			arrange: func(p []string) []string {
				// X-Awra-Key-I%64 decodes to X-Awra-Key-Id, so it is the
				// signed key id and must not reach the upstream.
				p[1] = strings.Replace(p[1], "X-Awra-Key-Id", "X-Awra-Key-I%64", 1)
				return p
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := mintURL(t, key, http.MethodGet, host, tt.target, urlExpiresSoon())
			if tt.arrange != nil {
				target = editURLQuery(target, tt.arrange)
			}

			wantURI, _, _ := strings.Cut(target, "?")
			if rest := withoutControl(strings.Split(urlQuery(target), "&")); len(rest) > 0 {
				wantURI += "?" + strings.Join(rest, "&")
			}

			resp := rawGet(t, host, target, nil)
			checkAllowed(t, "GET "+tt.name, resp)
			checkForwarded(t, tt.name, wantURI)
		})
	}

	t.Run("forged X-Awra headers removed", func(t *testing.T) {
		target := mintURL(t, key, http.MethodGet, host, "/files/report.pdf?x=1", urlExpiresSoon())
		forged := http.Header{
			"X-Awra-Url-Key-Id": {"k-admin"},
			"x-awra-key-id":     {"admin"},
			"X-AWRA-SCOPES":     {"*:*"},
			"X-Awra-Request-Id": {"forged"},
		}
		resp := rawGet(t, host, target, forged)
		checkAllowed(t, "GET with forged X-Awra-* headers", resp)

		got := checkForwarded(t, "forged headers", "/files/report.pdf?x=1")
		for _, name := range []string{"X-Awra-Key-Id", "X-Awra-Scopes"} {
			if v, ok := got.Header[name]; ok {
				t.Errorf("upstream %s = %q, want the header removed", name, v)
			}
		}
	})

	t.Run("PUT link used for PUT", func(t *testing.T) {
		target := mintURL(t, key, http.MethodPut, host, "/files/upload.bin?part=1", urlExpiresSoon())
		resp := rawURLRequest(t, host, http.MethodPut, host, target, nil)
		checkAllowed(t, "PUT with a PUT link", resp)
		if got := up.last(t); got.Method != http.MethodPut {
			t.Errorf("upstream method = %q, want PUT", got.Method)
		}
	})

	t.Run("host compared without case", func(t *testing.T) {
		signedHost := "files.localhost:" + strings.TrimPrefix(host, "127.0.0.1:")
		target := mintURL(t, key, http.MethodGet, signedHost, "/files/report.pdf", urlExpiresSoon())
		resp := rawURLRequest(t, host, http.MethodGet, strings.ToUpper(signedHost), target, nil)
		checkAllowed(t, "GET with an upper-case Host", resp)
	})

	t.Run("escaped unreserved characters in path", func(t *testing.T) {
		// The link is signed for ~ and A, and a client that escapes them
		// sends the same canonical path.
		target := mintURL(t, key, http.MethodGet, host, "/files/~user/A.txt", urlExpiresSoon())
		sent := strings.Replace(target, "/files/~user/A.txt", "/files/%7Euser/%41.txt", 1)
		resp := rawGet(t, host, sent, nil)
		checkAllowed(t, "GET with escaped unreserved characters", resp)
	})
}

// TestSignedURLDefaultHeaders checks that without key_id_header the
// upstream of an allowed link receives no identity header at all: the
// gateway adds nothing to what the client sent and removes the X-Awra-*
// headers a client forged.
func TestSignedURLDefaultHeaders(t *testing.T) {
	t.Parallel()
	key := newURLKey(t, "k-plain")
	up := startUpstream(t)
	gw := startGateway(t, gatewayConfig{Routes: signedURLRoutesWith("", key), Upstream: up})
	host := gw.addr()

	target := mintURL(t, key, http.MethodGet, host, "/files/report.pdf?x=1", urlExpiresSoon())
	forged := http.Header{"X-Awra-Url-Key-Id": {"k-admin"}, "X-Link-Key-Id": {"client value"}}
	checkAllowed(t, "GET with a valid link", rawGet(t, host, target, forged))

	got := up.last(t)
	for name, values := range got.Header {
		if strings.HasPrefix(http.CanonicalHeaderKey(name), "X-Awra-") {
			t.Errorf("upstream %s = %q, want no X-Awra-* header", name, values)
		}
	}
	if v := got.Header.Values("X-Link-Key-Id"); len(v) != 1 || v[0] != "client value" {
		t.Errorf("upstream X-Link-Key-Id = %q, want the client's value untouched", v)
	}
	if got.RequestURI != "/files/report.pdf?x=1" {
		t.Errorf("upstream request URI = %q, want /files/report.pdf?x=1", got.RequestURI)
	}
}
