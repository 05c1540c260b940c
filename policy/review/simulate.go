package review

import "strings"

// simulation replays Caddy's routing of one request over a server's
// routes and records the awra handlers it reaches.
type simulation struct {
	req       simRequest
	uncertain bool
	reached   []reach
}

// reach is an awra handler the replay got to, with the path it saw.
type reach struct {
	handler   int
	path      string
	uncertain bool
}

// walk runs routes as Caddy runs a compiled route list. Routes whose
// matchers fail are skipped, and only the first matching route of a group
// runs. The chain ends at a handler that does not call the next one, or
// after a terminal route. walk reports whether the chain ended.
func (s *simulation) walk(routes []routeNode) bool {
	groups := map[string]bool{}
	for i := range routes {
		r := &routes[i]
		if r.group != "" && groups[r.group] {
			continue
		}
		switch matchRoute(r.match, &s.req) {
		case triNo:
			continue
		case triMaybe:
			s.uncertain = true
		}
		if r.group != "" {
			groups[r.group] = true
		}

		for j := range r.handlers {
			h := &r.handlers[j]
			switch h.kind {
			case kindAwra:
				s.reached = append(s.reached, reach{handler: h.awra, path: s.req.path, uncertain: s.uncertain})
			case kindSubroute:
				if s.walk(h.routes) {
					return true
				}
			case kindRewrite:
				s.rewrite(h.rewrite)
			case kindTerminal:
				return true
			}
		}
		if r.terminal {
			return true
		}
	}
	return false
}

// rewrite applies the method and strip rewrites the way Caddy 2.11 does:
// the path is cleaned, the prefix or suffix is removed when present
// (compared without case), and the result is anchored at "/".
func (s *simulation) rewrite(op rewriteOp) {
	if op.other {
		s.uncertain = true
		return
	}
	if op.method != "" {
		s.req.method = strings.ToUpper(op.method)
	}
	if op.stripPrefix != "" {
		p := cleanPath(s.req.path, !strings.Contains(op.stripPrefix, "//"))
		switch {
		case len(p) >= len(op.stripPrefix) && strings.EqualFold(p[:len(op.stripPrefix)], op.stripPrefix):
			s.req.path = anchorPath(p[len(op.stripPrefix):])
		case strings.Contains(p, "%") || strings.Contains(op.stripPrefix, "%"):
			// Caddy compares escapes in unescaped form here; not replayed.
			s.uncertain = true
		}
	}
	if op.stripSuffix != "" {
		p := cleanPath(s.req.path, !strings.Contains(op.stripSuffix, "//"))
		switch {
		case len(p) >= len(op.stripSuffix) && strings.EqualFold(p[len(p)-len(op.stripSuffix):], op.stripSuffix):
			s.req.path = anchorPath(p[:len(p)-len(op.stripSuffix)])
		case strings.Contains(p, "%") || strings.Contains(op.stripSuffix, "%"):
			s.uncertain = true
		}
	}
}

func anchorPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return cleanPath(p, false)
}
