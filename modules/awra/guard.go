package awra

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/awra/awragate/policy"
)

// rewriteHeaders carry a "real" URL from some front ends. awragate never
// reads them, and removes them so that no upstream framework does either.
var rewriteHeaders = []string{"X-Forwarded-Uri", "X-Original-Url", "X-Rewrite-Url"}

// stripRewriteHeaders removes headers through which a client could make an
// upstream route by another path than the one authorized here.
func stripRewriteHeaders(h http.Header) {
	for _, name := range rewriteHeaders {
		delete(h, name)
	}
}

// stripAwraHeaders removes every X-Awra-* request header the client sent,
// so that only the gateway sets identity headers.
func stripAwraHeaders(h http.Header) {
	for name := range h {
		if len(name) >= 7 && strings.EqualFold(name[:7], "X-Awra-") {
			delete(h, name)
		}
	}
}

// setIdentity sets the identity headers of an allowed request: pairs of
// canonical names and values, and d's request id in idHeader unless
// idHeader is empty. One allocation holds every value, and each header's
// slice is capped at its own element, so an append to one header cannot
// overwrite another.
func setIdentity(h http.Header, idHeader string, d *decision, pairs ...string) {
	n := len(pairs) / 2
	if n == 0 && idHeader == "" {
		return
	}
	values := make([]string, n, n+1)
	for i := range n {
		values[i] = pairs[2*i+1]
		h[pairs[2*i]] = values[i : i+1 : i+1]
	}
	if idHeader != "" {
		values = append(values, d.id())
		h[idHeader] = values[n : n+1 : n+1]
	}
}

// sentRequest returns the request as the client sent it, before any
// rewrite or strip_prefix, and false when Caddy kept no copy.
func sentRequest(r *http.Request) (http.Request, bool) {
	orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
	return orig, ok
}

// checkRequestPaths applies policy.CheckPath to the path as the client
// sent it and to forwarded, the escaped path that will be forwarded.
func checkRequestPaths(r *http.Request, forwarded string) policy.PathProblem {
	if orig, ok := sentRequest(r); ok {
		return checkPaths(&orig, forwarded)
	}
	return checkPaths(nil, forwarded)
}

// checkPaths is checkRequestPaths for a request as sent that the caller
// looked up already, or nil. Equal paths, as without a rewrite, are
// checked once.
func checkPaths(sent *http.Request, forwarded string) policy.PathProblem {
	if sent != nil {
		path := sent.RequestURI
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path != "" && path != "*" && path[0] != '/' {
			// Absolute form (GET http://host/path): judge its path part.
			// URL parsing would drop a raw '#' and what follows it.
			if strings.IndexByte(path, '#') >= 0 {
				return policy.PathFragment
			}
			if u, err := sent.URL.Parse(path); err == nil {
				path = u.EscapedPath()
			}
		}
		if p := policy.CheckPath(path); p != policy.PathOK || path == forwarded {
			return p
		}
	}
	return policy.CheckPath(forwarded)
}

// clientAddr returns Caddy's resolved client IP, which honours
// trusted_proxies, and the address of the directly connected peer. The
// address is parsed once when both are the same, as without a proxy.
func clientAddr(r *http.Request) (client, peer netip.Addr) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, _ = netip.ParseAddr(host)

	if s, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && s != host {
		client, _ = netip.ParseAddr(s)
	}
	if !client.IsValid() {
		client = peer
	}
	return client.Unmap(), peer.Unmap()
}

// requestPath returns the forwarded path without the query for audit
// records and logs.
func requestPath(r *http.Request) string {
	return r.URL.EscapedPath()
}
