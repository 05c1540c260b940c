package review

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/awra/awragate/policy/audit"
	"github.com/awra/awragate/policy/signedurl"
)

// Effective defaults of the awra handlers, as their Provision applies
// them. They are repeated here because the handlers live in a Caddy
// module that this package must not import.
const (
	defaultWebhookTolerance     = 5 * time.Minute
	defaultWebhookMaxBody       = 1 << 20
	defaultWebhookReplayWindow  = 24 * time.Hour
	defaultWebhookMaxDeliveries = 10
)

// Handler names of the awra handlers in Caddy JSON.
const (
	handlerAPIKey    = "awra_api_key"
	handlerSignedURL = "awra_signed_url"
	handlerWebhook   = "awra_webhook"
)

// terminalHandlers never call the next handler, so routing ends at them.
var terminalHandlers = map[string]bool{
	"static_response": true, "reverse_proxy": true, "file_server": true,
	"error": true, "acme_server": true, "copy_response": true,
}

// routeWalker turns one server's routes into routing nodes and records
// the awra handlers it passes.
type routeWalker struct {
	d        *Deployment
	env      Env
	server   string
	handlers int
}

// routes converts a route list. pointer is the JSON pointer of the list
// and conditions the route descriptions of the enclosing levels.
func (w *routeWalker) routes(raw []rawRoute, pointer string, conditions []string) ([]routeNode, error) {
	nodes := make([]routeNode, 0, len(raw))
	for i, rr := range raw {
		at := pointer + "/" + strconv.Itoa(i)
		node := routeNode{group: rr.Group, terminal: rr.Terminal}
		for j, set := range rr.Match {
			ms, err := parseMatcherSet(set)
			if err != nil {
				return nil, fmt.Errorf("%s/match/%d: %w", at, j, err)
			}
			node.match = append(node.match, ms)
		}

		conds := conditions
		if desc := describeMatch(node.match); desc != "" {
			conds = append(append([]string(nil), conditions...), desc)
		}
		for j, rawHandler := range rr.Handle {
			h, err := w.handler(rawHandler, at+"/handle/"+strconv.Itoa(j), conds)
			if err != nil {
				return nil, err
			}
			node.handlers = append(node.handlers, h)
		}
		nodes = append(nodes, node)
	}
	return nodes, nil
}

// handler converts one handler and records it when it is an awra handler.
func (w *routeWalker) handler(raw json.RawMessage, pointer string, conditions []string) (handlerNode, error) {
	var head struct {
		Handler string     `json:"handler"`
		Routes  []rawRoute `json:"routes"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return handlerNode{}, fmt.Errorf("%s: %w", pointer, err)
	}

	ref := RouteRef{ID: pointer, Server: w.server, Label: routeLabel(w.server, conditions)}
	switch head.Handler {
	case "subroute":
		routes, err := w.routes(head.Routes, pointer+"/routes", conditions)
		return handlerNode{kind: kindSubroute, routes: routes}, err
	case "rewrite":
		op, err := parseRewrite(raw)
		if err != nil {
			return handlerNode{}, fmt.Errorf("%s: %w", pointer, err)
		}
		return handlerNode{kind: kindRewrite, rewrite: op}, nil
	case handlerAPIKey:
		ref.Module = audit.ModuleAPIKey
		var h struct {
			Scopes []string `json:"scopes"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			return handlerNode{}, fmt.Errorf("%s: %w", pointer, err)
		}
		w.d.APIKeyRoutes = append(w.d.APIKeyRoutes, APIKeyRoute{RouteRef: ref, Scopes: nonNil(h.Scopes)})
		return w.awra(ref, h.Scopes), nil
	case handlerSignedURL:
		ref.Module = audit.ModuleSignedURL
		route, err := w.signedURL(raw, ref)
		if err != nil {
			return handlerNode{}, fmt.Errorf("%s: %w", pointer, err)
		}
		w.d.SignedURLRoutes = append(w.d.SignedURLRoutes, route)
		return w.awra(ref, nil), nil
	case handlerWebhook:
		ref.Module = audit.ModuleWebhook
		route, err := w.webhook(raw, ref)
		if err != nil {
			return handlerNode{}, fmt.Errorf("%s: %w", pointer, err)
		}
		w.d.WebhookRoutes = append(w.d.WebhookRoutes, route)
		return w.awra(ref, nil), nil
	}
	if terminalHandlers[head.Handler] {
		return handlerNode{kind: kindTerminal}, nil
	}
	return handlerNode{kind: kindPassThrough}, nil
}

func (w *routeWalker) awra(ref RouteRef, scopes []string) handlerNode {
	w.handlers++
	w.d.router.handlers = append(w.d.router.handlers, handlerEntry{ref: ref, scopes: scopes})
	return handlerNode{kind: kindAwra, awra: len(w.d.router.handlers) - 1}
}

func (w *routeWalker) signedURL(raw json.RawMessage, ref RouteRef) (SignedURLRoute, error) {
	var h struct {
		Keys []struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		} `json:"keys"`
		MaxTTL    json.RawMessage `json:"max_ttl"`
		ClockSkew json.RawMessage `json:"clock_skew"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return SignedURLRoute{}, err
	}
	maxTTL, err := parseJSONDuration(h.MaxTTL)
	if err != nil {
		return SignedURLRoute{}, fmt.Errorf("max_ttl: %w", err)
	}
	skew, err := parseJSONDuration(h.ClockSkew)
	if err != nil {
		return SignedURLRoute{}, fmt.Errorf("clock_skew: %w", err)
	}
	route := SignedURLRoute{RouteRef: ref, MaxTTL: orDefault(maxTTL, signedurl.DefaultMaxTTL), ClockSkew: orDefault(skew, signedurl.DefaultClockSkew), Keys: []SigningKeyInfo{}}
	for _, k := range h.Keys {
		route.Keys = append(route.Keys, SigningKeyInfo{ID: k.ID, Secret: w.env.ResolveSecret(k.Secret)})
	}
	return route, nil
}

func (w *routeWalker) webhook(raw json.RawMessage, ref RouteRef) (WebhookRoute, error) {
	var h struct {
		Provider      string          `json:"provider"`
		Secrets       []string        `json:"secrets"`
		Tolerance     json.RawMessage `json:"tolerance"`
		MaxBody       int64           `json:"max_body"`
		SourceCIDRs   []string        `json:"source_cidrs"`
		ReplayWindow  json.RawMessage `json:"replay_window"`
		MaxDeliveries int             `json:"max_deliveries"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return WebhookRoute{}, err
	}
	tolerance, err := parseJSONDuration(h.Tolerance)
	if err != nil {
		return WebhookRoute{}, fmt.Errorf("tolerance: %w", err)
	}
	window, err := parseJSONDuration(h.ReplayWindow)
	if err != nil {
		return WebhookRoute{}, fmt.Errorf("replay_window: %w", err)
	}
	route := WebhookRoute{
		RouteRef:      ref,
		Provider:      h.Provider,
		Secrets:       []SecretInfo{},
		Tolerance:     orDefault(tolerance, defaultWebhookTolerance),
		MaxBody:       orDefault(h.MaxBody, defaultWebhookMaxBody),
		SourceCIDRs:   nonNil(h.SourceCIDRs),
		ReplayWindow:  orDefault(window, defaultWebhookReplayWindow),
		MaxDeliveries: orDefault(h.MaxDeliveries, defaultWebhookMaxDeliveries),
	}
	for _, s := range h.Secrets {
		route.Secrets = append(route.Secrets, w.env.ResolveSecret(s))
	}
	return route, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// parseMatcherSet reads the matchers the router can evaluate: path,
// path_regexp, host, method, client_ip and remote_ip. Any other matcher
// is kept by name and makes a match uncertain.
func parseMatcherSet(set map[string]json.RawMessage) (matcherSet, error) {
	var ms matcherSet
	for name, raw := range set {
		var err error
		switch name {
		case "path":
			err = json.Unmarshal(raw, &ms.paths)
		case "host":
			err = json.Unmarshal(raw, &ms.hosts)
		case "method":
			err = json.Unmarshal(raw, &ms.methods)
		case "path_regexp":
			var re struct {
				Pattern string `json:"pattern"`
			}
			if err = json.Unmarshal(raw, &re); err == nil {
				ms.pathRegexp, err = regexp.Compile(re.Pattern)
			}
		case "client_ip", "remote_ip":
			var ips struct {
				Ranges []string `json:"ranges"`
			}
			if err = json.Unmarshal(raw, &ips); err == nil {
				r := ipMatcher{peer: name == "remote_ip"}
				r.prefixes, r.uncertain = parseRanges(ips.Ranges)
				ms.ips = append(ms.ips, r)
			}
		default:
			ms.unknown = append(ms.unknown, name)
		}
		if err != nil {
			return matcherSet{}, fmt.Errorf("matcher '%s': %w", name, err)
		}
	}
	slices.Sort(ms.unknown)
	return ms, nil
}

// describeMatch describes one route's matcher sets for a route label.
func describeMatch(sets []matcherSet) string {
	var parts []string
	for _, ms := range sets {
		var p []string
		if len(ms.hosts) > 0 {
			p = append(p, "host "+strings.Join(ms.hosts, " "))
		}
		if len(ms.methods) > 0 {
			p = append(p, "method "+strings.Join(ms.methods, " "))
		}
		if len(ms.paths) > 0 {
			p = append(p, "path "+strings.Join(ms.paths, " "))
		}
		if ms.pathRegexp != nil {
			p = append(p, "path_regexp "+ms.pathRegexp.String())
		}
		if len(ms.ips) > 0 {
			p = append(p, "client address")
		}
		for _, name := range ms.unknown {
			p = append(p, name)
		}
		if len(p) > 0 {
			parts = append(parts, strings.Join(p, " "))
		}
	}
	return strings.Join(parts, " or ")
}

func routeLabel(server string, conditions []string) string {
	if len(conditions) == 0 {
		return server + " (every request)"
	}
	return server + " " + strings.Join(conditions, ", ")
}
