package review

import (
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// tri is the result of a matcher the review evaluates without the
// original request: yes, no, or maybe when it depends on something the
// audit event does not record (a header, a placeholder).
type tri int

const (
	triNo tri = iota
	triMaybe
	triYes
)

// matcherSet is one Caddy matcher set: every matcher must match.
type matcherSet struct {
	paths      []string
	hosts      []string
	methods    []string
	pathRegexp *regexp.Regexp
	ips        []ipMatcher
	unknown    []string // matchers the review cannot evaluate, by name
}

// ipMatcher is a client_ip (peer false) or remote_ip (peer true) matcher.
type ipMatcher struct {
	peer      bool
	prefixes  []netip.Prefix
	uncertain bool // some range is a placeholder or unparsable
}

// simRequest is the part of a request that an audit event records.
type simRequest struct {
	method   string
	host     string
	path     string // escaped, as the event stores it
	clientIP netip.Addr
	peerIP   netip.Addr
}

// matchRoute evaluates a route's matcher sets, of which one must match.
// A route without matchers matches every request.
func matchRoute(sets []matcherSet, req *simRequest) tri {
	if len(sets) == 0 {
		return triYes
	}
	best := triNo
	for i := range sets {
		best = max(best, sets[i].eval(req))
		if best == triYes {
			break
		}
	}
	return best
}

// eval applies every matcher of the set, cheapest first, and stops at
// the first that fails.
func (ms *matcherSet) eval(req *simRequest) tri {
	result := triYes
	if len(ms.unknown) > 0 {
		result = triMaybe
	}
	if result = min(result, matchMethods(ms.methods, req.method)); result == triNo {
		return triNo
	}
	if result = min(result, matchHosts(ms.hosts, req.host)); result == triNo {
		return triNo
	}
	if result = min(result, matchPaths(ms.paths, req.path)); result == triNo {
		return triNo
	}
	if result = min(result, matchPathRegexp(ms.pathRegexp, req.path)); result == triNo {
		return triNo
	}
	return min(result, matchIPs(ms.ips, req))
}

// matchPaths follows Caddy 2.11's path matcher: case-insensitive, on the
// cleaned, unescaped path, with "*" as a substring, prefix, suffix or glob
// wildcard. Patterns with '%' or a placeholder give maybe unless they
// match literally.
func matchPaths(patterns []string, escapedPath string) tri {
	if len(patterns) == 0 {
		return triYes
	}
	unescaped, err := url.PathUnescape(escapedPath)
	if err != nil {
		return triMaybe
	}
	reqPath := strings.ToLower(unescaped)

	result := triNo
	for _, pattern := range patterns {
		pattern = strings.ToLower(pattern)
		if pattern == "*" {
			return triYes
		}
		if strings.Contains(pattern, "{") {
			result = triMaybe
			continue
		}
		merge := !strings.Contains(pattern, "//")
		if strings.Contains(pattern, "%") {
			escaped := cleanPath(strings.ToLower(escapedPath), merge)
			if ok, _ := path.Match(pattern, escaped); ok {
				return triYes
			}
			result = triMaybe
			continue
		}
		if matchPathPattern(pattern, cleanPath(reqPath, merge)) {
			return triYes
		}
	}
	return result
}

func matchPathPattern(pattern, p string) bool {
	stars := strings.Count(pattern, "*")
	switch {
	case stars == 2 && strings.HasPrefix(pattern, "*") && strings.HasSuffix(pattern, "*"):
		return strings.Contains(p, pattern[1:len(pattern)-1])
	case stars == 1 && strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(p, pattern[1:])
	case stars == 1 && strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(p, pattern[:len(pattern)-1])
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

// cleanPath cleans p like Caddy's CleanPath: it merges repeated slashes
// when mergeSlashes is set, resolves dot segments and keeps a trailing
// slash.
func cleanPath(p string, mergeSlashes bool) string {
	if p == "" {
		return ""
	}
	if mergeSlashes {
		for strings.Contains(p, "//") {
			p = strings.ReplaceAll(p, "//", "/")
		}
	}
	cleaned := path.Clean(p)
	if cleaned != "/" && strings.HasSuffix(p, "/") {
		cleaned += "/"
	}
	return cleaned
}

func matchHosts(patterns []string, reqHost string) tri {
	if len(patterns) == 0 {
		return triYes
	}
	host, _, err := net.SplitHostPort(reqHost)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(reqHost, "["), "]")
	}

	result := triNo
	for _, pattern := range patterns {
		switch {
		case strings.Contains(pattern, "{"):
			result = triMaybe
		case strings.Contains(pattern, "*"):
			if matchHostWildcard(pattern, host) {
				return triYes
			}
		case strings.EqualFold(pattern, host):
			return triYes
		}
	}
	return result
}

func matchHostWildcard(pattern, host string) bool {
	want := strings.Split(pattern, ".")
	got := strings.Split(host, ".")
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if want[i] != "*" && !strings.EqualFold(want[i], got[i]) {
			return false
		}
	}
	return true
}

func matchMethods(methods []string, method string) tri {
	if len(methods) == 0 {
		return triYes
	}
	for _, m := range methods {
		if strings.ToUpper(m) == method {
			return triYes
		}
	}
	return triNo
}

func matchPathRegexp(re *regexp.Regexp, escapedPath string) tri {
	if re == nil {
		return triYes
	}
	unescaped, err := url.PathUnescape(escapedPath)
	if err != nil {
		return triMaybe
	}
	if re.MatchString(cleanPath(unescaped, true)) {
		return triYes
	}
	return triNo
}

func matchIPs(matchers []ipMatcher, req *simRequest) tri {
	result := triYes
	for _, m := range matchers {
		addr := req.clientIP
		if m.peer {
			addr = req.peerIP
		}
		if !addr.IsValid() {
			result = min(result, triMaybe)
			continue
		}
		addr = addr.Unmap()
		found := false
		for _, p := range m.prefixes {
			if p.Contains(addr) {
				found = true
				break
			}
		}
		switch {
		case found:
		case m.uncertain:
			result = min(result, triMaybe)
		default:
			return triNo
		}
	}
	return result
}

// parseRanges reads the ranges of an IP matcher or a trusted_proxies
// source: CIDRs or single addresses. Host bits are cleared, as Caddy does.
// The second result reports ranges that could not be read.
func parseRanges(ranges []string) ([]netip.Prefix, bool) {
	var out []netip.Prefix
	bad := false
	for _, r := range ranges {
		if p, ok := parseRange(r); ok {
			out = append(out, p)
		} else {
			bad = true
		}
	}
	return out, bad
}

func parseRange(r string) (netip.Prefix, bool) {
	if strings.Contains(r, "/") {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked(), true
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(r)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), true
}
