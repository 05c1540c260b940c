package integrationtests

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awra/awragate/policy/signedurl"
)

// Limits of the signed-URL routes in these tests. urlMaxTTL is short so
// that the lifetime checks run near a boundary the tests can reach.
const (
	urlMaxTTL    = time.Hour
	urlClockSkew = 30 * time.Second
)

// urlKey is a signing key generated for one test. Its secret is passed to
// gateways through the environment variable EnvName and referenced as
// {env.EnvName} in the Caddyfile, so it never appears in a configuration
// file that a failing start prints.
type urlKey struct {
	ID      string
	EnvName string
	Secret  []byte
}

var urlKeySeq atomic.Int64

// newURLKey generates a key with a 48-byte random hex secret, sets the
// secret in this process's environment, which every gateway started later
// inherits, and registers it for the leak scans.
//
// The variable is never unset: t.Setenv would forbid parallel tests, and
// each name is used by one test only. NOTE: a gatewayConfig field for extra
// environment variables would keep the secrets out of other gateways'
// environments.
func newURLKey(t testing.TB, id string) urlKey {
	t.Helper()
	raw := make([]byte, 24)
	rand.Read(raw) // crypto/rand.Read never returns an error (Go 1.24 and later)
	k := urlKey{
		ID:      id,
		EnvName: fmt.Sprintf("AWRA_IT_URL_SECRET_%d", urlKeySeq.Add(1)),
		Secret:  []byte(hex.EncodeToString(raw)),
	}
	if err := os.Setenv(k.EnvName, string(k.Secret)); err != nil {
		t.Fatalf("setting %s: %v", k.EnvName, err)
	}
	watchToken(id, string(k.Secret))
	return k
}

// signedURLRoutes returns routes with awra_signed_url on /files/* over
// keys, proxying to {{.Upstream}}, and a 404 for every other path. The
// upstream gets the signing key's id in X-Awra-Url-Key-Id, so that tests
// can tell which key admitted a link.
func signedURLRoutes(keys ...urlKey) string {
	return signedURLRoutesWith("key_id_header X-Awra-Url-Key-Id", keys...)
}

// signedURLRoutesWith is signedURLRoutes with the given option lines in
// the awra_signed_url block instead of key_id_header.
func signedURLRoutesWith(options string, keys ...urlKey) string {
	var b strings.Builder
	b.WriteString("handle /files/* {\n\t\tawra_signed_url {\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "\t\t\tkey %s {env.%s}\n", k.ID, k.EnvName)
	}
	if options != "" {
		fmt.Fprintf(&b, "\t\t\t%s\n", options)
	}
	fmt.Fprintf(&b, "\t\t\tmax_ttl %s\n\t\t\tclock_skew %s\n\t\t}\n", urlMaxTTL, urlClockSkew)
	b.WriteString("\t\treverse_proxy {{.Upstream}}\n\t}\n")
	b.WriteString("\thandle {\n\t\trespond `{\"error\":\"not found\"}` 404\n\t}\n")
	return b.String()
}

// startSignedURLGateway starts an upstream and a gateway on
// signedURLRoutes(keys...).
func startSignedURLGateway(t *testing.T, keys ...urlKey) (*gateway, *upstream) {
	t.Helper()
	up := startUpstream(t)
	gw := startGateway(t, gatewayConfig{Routes: signedURLRoutes(keys...), Upstream: up})
	return gw, up
}

// mintURL signs target (a path with an optional query, as it will be sent)
// for method on host over plain HTTP, and returns it with the three control
// parameters appended.
func mintURL(t testing.TB, k urlKey, method, host, target string, expires time.Time) string {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	s, err := signedurl.NewSigner(k.ID, k.Secret)
	if err != nil {
		t.Fatalf("signedurl.NewSigner(%q): %v", k.ID, err)
	}
	signed, err := s.Sign(method, "http", host, path, query, expires)
	if err != nil {
		t.Fatalf("Sign(%s %s%s): %v", method, host, target, err)
	}
	return path + "?" + signed
}

// resignURL computes the signature of target exactly as given, control
// parameters included, and returns target with X-Awra-Signature appended.
// Tests use it to send a tampered link whose signature is still correct,
// so that a denial proves the tampering was caught and not merely the
// signature mismatch.
func resignURL(t testing.TB, k urlKey, method, host, target string) string {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	canonical, err := signedurl.Canonical(method, "http", host, path, query)
	if err != nil {
		t.Fatalf("signedurl.Canonical(%s %s%s): %v", method, host, target, err)
	}
	mac := hmac.New(sha256.New, k.Secret)
	mac.Write([]byte(canonical))
	return target + "&" + signedurl.ParamSignature + "=" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// urlExpiresSoon is an expiry well inside urlMaxTTL for links that must pass the
// time checks.
func urlExpiresSoon() time.Time { return time.Now().Add(10 * time.Minute) }

// urlQuery returns the query of target, without the '?'.
func urlQuery(target string) string {
	_, q, _ := strings.Cut(target, "?")
	return q
}

// urlParam returns the raw value of the first piece of target's query
// whose raw name is name.
func urlParam(target, name string) string {
	for piece := range strings.SplitSeq(urlQuery(target), "&") {
		if n, v, _ := strings.Cut(piece, "="); n == name {
			return v
		}
	}
	return ""
}

// editURLQuery returns target with edit applied to the list of its query
// pieces, split on '&'.
func editURLQuery(target string, edit func(pieces []string) []string) string {
	path, query, _ := strings.Cut(target, "?")
	return path + "?" + strings.Join(edit(strings.Split(query, "&")), "&")
}

// replaceURLPiece returns target with every query piece whose raw name is name
// replaced by piece, or removed when piece is empty.
func replaceURLPiece(target, name, piece string) string {
	return editURLQuery(target, func(pieces []string) []string {
		var out []string
		for _, p := range pieces {
			if n, _, _ := strings.Cut(p, "="); n == name {
				if piece != "" {
					out = append(out, piece)
				}
				continue
			}
			out = append(out, p)
		}
		return out
	})
}

// rawURLRequest sends "method target HTTP/1.1" to addr with the Host header
// host and the other headers, byte for byte as given.
func rawURLRequest(t testing.TB, addr, method, host, target string, header http.Header) response {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
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
	b.WriteString("Content-Length: 0\r\nConnection: close\r\n\r\n")
	return sendRaw(t, addr, b.String())
}

// urlSignatureLike matches a run of base64url characters as long as a
// truncated signature. No problem detail may contain one.
var urlSignatureLike = regexp.MustCompile(`[A-Za-z0-9_-]{32,}`)

// checkURLDenied checks that resp is a 403 problem with reason, that the
// upstream received nothing since it had before requests, and that the
// detail shows neither the link's signature nor any other.
func checkURLDenied(t testing.TB, request string, resp response, up *upstream, before int, target, reason string) problem {
	t.Helper()
	p := checkProblem(t, request, resp, http.StatusForbidden, reason)
	if n := up.count() - before; n != 0 {
		t.Errorf("%s: upstream received %d requests, want 0", request, n)
	}
	if sig := urlParam(target, signedurl.ParamSignature); len(sig) >= 8 && strings.Contains(string(resp.Body), sig) {
		t.Errorf("%s: the problem body contains the link's signature", request)
	}
	if urlSignatureLike.MatchString(p.Detail) {
		t.Errorf("%s: detail = %q, want no signature-like value in it", request, p.Detail)
	}
	return p
}
