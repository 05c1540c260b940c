package review

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
)

// Usage aggregates the decisions of the period per API key and per
// route. Feed it with Observe, in stream order.
type Usage struct {
	d      *Deployment
	keys   map[string]*keyUsage
	routes map[int]*routeUsage

	// unmapped counts, per module, events that no single route could be
	// found for.
	unmapped map[audit.Module]*routeUsage

	// signingKeys counts allowed signed-URL requests per signing key id.
	signingKeys map[string]int
}

// keyUsage is one API key's decisions.
type keyUsage struct {
	allowed   int
	denied    map[string]int
	throttled int
	clientIPs map[netip.Addr]bool // clients of allowed requests
	exercised map[string]bool     // required scopes of the routes used
	uncertain int                 // allowed requests without a certain route
	routes    map[int]int         // allowed requests per handler
}

// routeUsage is one route's decisions.
type routeUsage struct {
	allowed     int
	denied      map[string]int
	upstream5xx int
	duplicates  int // webhook deliveries acknowledged as already delivered
	throttled   map[string]int
	delaysMS    []int64 // webhook: signed timestamp to arrival, per delivery
}

// NewUsage returns an empty aggregate for the routes of d.
func NewUsage(d *Deployment) *Usage {
	return &Usage{
		d:           d,
		keys:        map[string]*keyUsage{},
		routes:      map[int]*routeUsage{},
		unmapped:    map[audit.Module]*routeUsage{},
		signingKeys: map[string]int{},
	}
}

// Observe adds one audit event. Events of the handlers' modules are
// mapped to their route (see Deployment.Map); API key events also count
// for their key.
func (u *Usage) Observe(ev *audit.Event) {
	switch ev.Module {
	case audit.ModuleAPIKey, audit.ModuleSignedURL, audit.ModuleWebhook:
	default:
		return
	}
	m := u.d.Map(ev)
	ru := u.routeFor(ev.Module, m)
	allowed := ev.Decision == audit.DecisionAllow
	reason := string(ev.Reason)

	switch {
	case allowed:
		ru.allowed++
		if ev.Status >= 500 {
			ru.upstream5xx++
		}
		if ev.Reason == policy.ReasonWebhookDuplicate {
			ru.duplicates++
		}
		if ev.Module == audit.ModuleWebhook {
			if ms, ok := signedDelayMS(ev.Detail); ok {
				ru.delaysMS = append(ru.delaysMS, ms)
			}
		}
	default:
		ru.denied[reason]++
		if ev.Reason == policy.ReasonRateLimited && ev.KeyID != "" {
			ru.throttled[ev.KeyID]++
		}
	}

	switch ev.Module {
	case audit.ModuleAPIKey:
		if ev.KeyID != "" {
			u.observeKey(ev, m, allowed)
		}
	case audit.ModuleSignedURL:
		if allowed && ev.KeyID != "" {
			u.signingKeys[ev.KeyID]++
		}
	}
}

func (u *Usage) observeKey(ev *audit.Event, m Mapping, allowed bool) {
	ku := u.keys[ev.KeyID]
	if ku == nil {
		ku = &keyUsage{denied: map[string]int{}, clientIPs: map[netip.Addr]bool{}, exercised: map[string]bool{}, routes: map[int]int{}}
		u.keys[ev.KeyID] = ku
	}
	if !allowed {
		ku.denied[string(ev.Reason)]++
		if ev.Reason == policy.ReasonRateLimited {
			ku.throttled++
		}
		return
	}

	ku.allowed++
	if ip, err := netip.ParseAddr(ev.ClientIP); err == nil {
		ku.clientIPs[ip.Unmap().WithZone("")] = true
	}
	scopes, ok := u.exercisedScopes(m)
	if !ok {
		ku.uncertain++
		return
	}
	for _, s := range scopes {
		ku.exercised[s] = true
	}
	if h, ok := m.Unique(); ok {
		ku.routes[h]++
	}
}

// exercisedScopes returns the scopes the route of an allowed request
// required. It fails when the mapping is uncertain, or when the candidate
// routes require different scopes.
func (u *Usage) exercisedScopes(m Mapping) ([]string, bool) {
	if !m.Certain || len(m.Handlers) == 0 {
		return nil, false
	}
	first := u.d.router.handlers[m.Handlers[0]].scopes
	for _, h := range m.Handlers[1:] {
		if !sameStrings(u.d.router.handlers[h].scopes, first) {
			return nil, false
		}
	}
	return first, true
}

func (u *Usage) routeFor(module audit.Module, m Mapping) *routeUsage {
	if h, ok := m.Unique(); ok {
		return routeUsageIn(u.routes, h)
	}
	return routeUsageIn(u.unmapped, module)
}

func routeUsageIn[K comparable](table map[K]*routeUsage, key K) *routeUsage {
	ru := table[key]
	if ru == nil {
		ru = newRouteUsage()
		table[key] = ru
	}
	return ru
}

func newRouteUsage() *routeUsage {
	return &routeUsage{denied: map[string]int{}, throttled: map[string]int{}}
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
		if seen[s] < 0 {
			return false
		}
	}
	return true
}

// signedDelayMS reads the "signed_delay_ms=N" part of a webhook event's
// detail: the time from the provider's signed timestamp to arrival.
func signedDelayMS(detail string) (int64, bool) {
	for part := range strings.FieldsSeq(detail) {
		if v, ok := strings.CutPrefix(part, "signed_delay_ms="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
