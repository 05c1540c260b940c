package review

import (
	"encoding/json"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/awra/awragate/policy/audit"
)

// The router maps an audit event back to the awra handler that wrote it.
// An event records the method, host and path the handler saw, which is
// the path after any rewrite before it. So for each handler the router
// guesses the path the client sent: the event path with the
// strip_path_prefix values met before that handler put back. It replays
// Caddy's routing on that guess (groups, matchers, subroutes, rewrites,
// handlers that end the chain). It keeps the handlers of the event's
// module that the replay reaches with exactly the event's path. Matchers
// that depend on data the event lacks (headers, placeholders, query) make
// the result uncertain rather than wrong.

type handlerKind int

const (
	kindPassThrough handlerKind = iota // calls the next handler
	kindTerminal                       // ends the chain
	kindSubroute
	kindRewrite
	kindAwra
)

type routeNode struct {
	group    string
	match    []matcherSet
	handlers []handlerNode
	terminal bool
}

type handlerNode struct {
	kind    handlerKind
	routes  []routeNode // kindSubroute
	rewrite rewriteOp   // kindRewrite
	awra    int         // kindAwra: index into router.handlers
}

// rewriteOp is the part of a rewrite handler the router can replay.
type rewriteOp struct {
	method      string
	stripPrefix string
	stripSuffix string
	other       bool // uri, uri_substring, path_regexp or query: not replayed
}

func parseRewrite(raw json.RawMessage) (rewriteOp, error) {
	var r struct {
		Method          string            `json:"method"`
		URI             string            `json:"uri"`
		StripPathPrefix string            `json:"strip_path_prefix"`
		StripPathSuffix string            `json:"strip_path_suffix"`
		URISubstring    []json.RawMessage `json:"uri_substring"`
		PathRegexp      []json.RawMessage `json:"path_regexp"`
		Query           json.RawMessage   `json:"query"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return rewriteOp{}, err
	}
	op := rewriteOp{method: r.Method, stripPrefix: r.StripPathPrefix, stripSuffix: r.StripPathSuffix}
	if op.stripPrefix != "" && !strings.HasPrefix(op.stripPrefix, "/") {
		op.stripPrefix = "/" + op.stripPrefix
	}
	op.other = r.URI != "" || len(r.URISubstring) > 0 || len(r.PathRegexp) > 0 || len(r.Query) > 0 ||
		strings.Contains(op.stripPrefix+op.stripSuffix+op.method, "{")
	return op, nil
}

type handlerEntry struct {
	ref    RouteRef
	scopes []string // awra_api_key only
}

type serverRoutes struct {
	name   string
	listen []string
	routes []routeNode
}

type router struct {
	servers  []serverRoutes
	handlers []handlerEntry
	prefixes [][]string // per handler: strip prefixes met before it
	cache    map[string]Mapping
	hasIPs   bool
}

// Mapping is the result of mapping an event to handlers.
type Mapping struct {
	// Handlers are the indexes of the candidate handlers, sorted.
	Handlers []int

	// Certain reports that the replay reached the handlers without an
	// uncertain matcher or rewrite on the way.
	Certain bool
}

// Unique returns the only candidate handler when the mapping is certain
// and has exactly one.
func (m Mapping) Unique() (int, bool) {
	if m.Certain && len(m.Handlers) == 1 {
		return m.Handlers[0], true
	}
	return 0, false
}

// maxCacheEntries bounds the router's cache of mappings.
const maxCacheEntries = 100000

// maxReplayPrefixes bounds the strip prefixes whose combinations the
// router tries, 2^n guesses per handler.
const maxReplayPrefixes = 6

// prepare records, per handler, the strip_path_prefix values that a
// depth-first walk meets before it.
func (rt *router) prepare() {
	if rt.prefixes != nil {
		return
	}
	rt.prefixes = make([][]string, len(rt.handlers))
	for _, srv := range rt.servers {
		var seen []string
		rt.collectPrefixes(srv.routes, &seen)
	}
	rt.cache = map[string]Mapping{}
}

func (rt *router) collectPrefixes(routes []routeNode, seen *[]string) {
	for _, r := range routes {
		for _, ms := range r.match {
			if len(ms.ips) > 0 {
				rt.hasIPs = true
			}
		}
		for _, h := range r.handlers {
			switch h.kind {
			case kindRewrite:
				if h.rewrite.stripPrefix != "" {
					*seen = append(*seen, h.rewrite.stripPrefix)
				}
			case kindSubroute:
				rt.collectPrefixes(h.routes, seen)
			case kindAwra:
				rt.prefixes[h.awra] = slices.Clone(*seen)
			}
		}
	}
}

// Map returns the handlers of ev's module that handled ev.
func (d *Deployment) Map(ev *audit.Event) Mapping {
	rt := &d.router
	rt.prepare()
	req := simRequest{method: ev.Method, host: ev.Host, path: ev.Path}
	key := string(ev.Module) + "\x00" + ev.Method + "\x00" + ev.Host + "\x00" + ev.Path
	if rt.hasIPs {
		req.clientIP, _ = netip.ParseAddr(ev.ClientIP)
		req.peerIP, _ = netip.ParseAddr(ev.PeerIP)
		key += "\x00" + ev.ClientIP + "\x00" + ev.PeerIP
	}
	if m, ok := rt.cache[key]; ok {
		return m
	}
	m := rt.mapRequest(ev.Module, req)
	if len(rt.cache) < maxCacheEntries {
		rt.cache[key] = m
	}
	return m
}

func (rt *router) mapRequest(module audit.Module, req simRequest) Mapping {
	// Every handler of the module adds its guesses; each distinct guess is
	// replayed once per server. A reached handler counts only when it saw
	// exactly the event's path.
	guesses := map[string]bool{}
	for i, h := range rt.handlers {
		if h.ref.Module == module {
			for _, g := range originalPaths(req.path, rt.prefixes[i]) {
				guesses[g] = true
			}
		}
	}

	certain := map[int]bool{}
	maybe := map[int]bool{}
	servers := rt.serversFor(req.host)
	for guess := range guesses {
		for _, srv := range servers {
			sim := simulation{req: req}
			sim.req.path = guess
			sim.walk(srv.routes)
			for _, r := range sim.reached {
				if rt.handlers[r.handler].ref.Module != module || r.path != req.path {
					continue
				}
				if r.uncertain {
					maybe[r.handler] = true
				} else {
					certain[r.handler] = true
				}
			}
		}
	}
	if len(certain) > 0 {
		return Mapping{Handlers: sortedKeys(certain), Certain: true}
	}
	return Mapping{Handlers: sortedKeys(maybe)}
}

// serversFor returns the servers listening on the port of host, or all
// servers when none does or host has no port.
func (rt *router) serversFor(host string) []serverRoutes {
	_, port, err := net.SplitHostPort(host)
	if err != nil {
		return rt.servers
	}
	var out []serverRoutes
	for _, srv := range rt.servers {
		for _, l := range srv.listen {
			if listenHasPort(l, port) {
				out = append(out, srv)
				break
			}
		}
	}
	if len(out) == 0 {
		return rt.servers
	}
	return out
}

// listenHasPort reports whether a Caddy listen address ("tcp/:8080",
// "127.0.0.1:8080-8085") includes port.
func listenHasPort(listen, port string) bool {
	if i := strings.Index(listen, "/"); i >= 0 {
		listen = listen[i+1:]
	}
	i := strings.LastIndexByte(listen, ':')
	if i < 0 {
		return false
	}
	spec := listen[i+1:]
	lo, hi, isRange := strings.Cut(spec, "-")
	if !isRange {
		hi = lo
	}
	p, err1 := strconv.Atoi(port)
	l, err2 := strconv.Atoi(lo)
	h, err3 := strconv.Atoi(hi)
	return err1 == nil && err2 == nil && err3 == nil && l <= p && p <= h
}

// originalPaths returns the guesses for the path the client sent: the
// event path with every ordered subset of prefixes put back in front.
func originalPaths(eventPath string, prefixes []string) []string {
	if len(prefixes) > maxReplayPrefixes {
		prefixes = prefixes[len(prefixes)-maxReplayPrefixes:]
	}
	guesses := []string{eventPath}
	for mask := 1; mask < 1<<len(prefixes); mask++ {
		var b strings.Builder
		for i, p := range prefixes {
			if mask&(1<<i) != 0 {
				b.WriteString(strings.TrimSuffix(p, "/"))
			}
		}
		guesses = append(guesses, b.String()+eventPath)
		if eventPath == "/" {
			guesses = append(guesses, b.String())
		}
	}
	return guesses
}

func sortedKeys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
