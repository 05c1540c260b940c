package review

import (
	"cmp"
	"slices"
	"strings"

	"github.com/awra/awragate/policy/audit"
)

// Health summarizes how the routes behaved in the period.
type Health struct {
	// Routes lists every awra route in configuration order, including
	// routes without traffic.
	Routes []RouteHealth `json:"routes"`

	// Unmapped counts, per module, events that no single route could be
	// found for.
	Unmapped []RouteHealth `json:"unmapped"`

	// Throttled lists the keys that hit their rate limit, most first.
	Throttled []KeyCount `json:"throttled_keys"`

	// SigningKeys counts allowed signed-URL requests per signing key id.
	SigningKeys []KeyCount `json:"signing_keys"`

	// WebhookDelay says where the delay between a provider's signed
	// timestamp and arrival is reported, and for which providers.
	WebhookDelay string `json:"webhook_delay"`
}

// RouteHealth is one route's decisions in the period.
type RouteHealth struct {
	ID      string        `json:"id,omitempty"`
	Route   string        `json:"route"`
	Module  audit.Module  `json:"module"`
	Allowed int           `json:"allowed"`
	Denied  int           `json:"denied"`
	Denials []ReasonCount `json:"denials"`

	// Upstream5xx counts allowed requests whose response status was 500
	// or more: the upstream failed or could not be reached.
	Upstream5xx int `json:"upstream_5xx"`

	// WebhookForwarded counts allowed webhook deliveries that went
	// upstream, and WebhookDuplicates those the gateway acknowledged as
	// already delivered without forwarding them.
	WebhookForwarded  int `json:"webhook_forwarded,omitempty"`
	WebhookDuplicates int `json:"webhook_duplicates,omitempty"`

	// Throttled counts rate_limited denials per key on this route.
	Throttled []KeyCount `json:"throttled"`

	// SignedDelay summarises, for webhook routes of providers that sign a
	// timestamp, the delay from that timestamp to arrival. It is nil when
	// no delivery carried one.
	SignedDelay *DelaySummary `json:"signed_delay,omitempty"`
}

// DelaySummary describes delays in milliseconds. A negative delay means
// the provider's clock was ahead of the gateway's.
type DelaySummary struct {
	Count int   `json:"count"`
	P50MS int64 `json:"p50_ms"`
	P99MS int64 `json:"p99_ms"`
	MaxMS int64 `json:"max_ms"`
}

func summarizeDelays(ms []int64) *DelaySummary {
	if len(ms) == 0 {
		return nil
	}
	sorted := slices.Clone(ms)
	slices.Sort(sorted)
	at := func(q float64) int64 { return sorted[int(q*float64(len(sorted)-1))] }
	return &DelaySummary{Count: len(sorted), P50MS: at(0.50), P99MS: at(0.99), MaxMS: sorted[len(sorted)-1]}
}

// ReasonCount is the number of denials with one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// KeyCount is a number of requests of one key.
type KeyCount struct {
	KeyID string `json:"key_id"`
	Count int    `json:"count"`
}

// WebhookDelayNote is the report's statement on webhook delivery delay.
const WebhookDelayNote = "per webhook route in the table above, for providers that sign a timestamp (stripe, slack, standard, and hmac with a timestamp header); the others carry no signed time"

func buildHealth(d *Deployment, u *Usage) Health {
	h := Health{Routes: []RouteHealth{}, Unmapped: []RouteHealth{}, Throttled: []KeyCount{}, SigningKeys: []KeyCount{}, WebhookDelay: WebhookDelayNote}
	for i, entry := range d.router.handlers {
		ru := u.routes[i]
		if ru == nil {
			ru = newRouteUsage()
		}
		h.Routes = append(h.Routes, routeHealth(entry.ref.ID, entry.ref.Label, entry.ref.Module, ru))
	}
	for _, module := range []audit.Module{audit.ModuleAPIKey, audit.ModuleSignedURL, audit.ModuleWebhook} {
		if ru := u.unmapped[module]; ru != nil {
			h.Unmapped = append(h.Unmapped, routeHealth("", "(no single route)", module, ru))
		}
	}

	for id, ku := range u.keys {
		if ku.throttled > 0 {
			h.Throttled = append(h.Throttled, KeyCount{KeyID: id, Count: ku.throttled})
		}
	}
	sortKeyCounts(h.Throttled)
	for id, n := range u.signingKeys {
		h.SigningKeys = append(h.SigningKeys, KeyCount{KeyID: id, Count: n})
	}
	sortKeyCounts(h.SigningKeys)
	return h
}

func routeHealth(id, label string, module audit.Module, ru *routeUsage) RouteHealth {
	rh := RouteHealth{ID: id, Route: label, Module: module, Allowed: ru.allowed, Upstream5xx: ru.upstream5xx, Denials: []ReasonCount{}, Throttled: []KeyCount{}}
	for reason, n := range ru.denied {
		rh.Denied += n
		rh.Denials = append(rh.Denials, ReasonCount{Reason: reason, Count: n})
	}
	slices.SortFunc(rh.Denials, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Reason, b.Reason))
	})
	for key, n := range ru.throttled {
		rh.Throttled = append(rh.Throttled, KeyCount{KeyID: key, Count: n})
	}
	sortKeyCounts(rh.Throttled)
	if module == audit.ModuleWebhook {
		rh.WebhookDuplicates = ru.duplicates
		rh.WebhookForwarded = ru.allowed - ru.duplicates
		rh.SignedDelay = summarizeDelays(ru.delaysMS)
	}
	return rh
}

func sortKeyCounts(s []KeyCount) {
	slices.SortFunc(s, func(a, b KeyCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.KeyID, b.KeyID))
	})
}

// unmappedTotal returns the number of events without a single route.
func (u *Usage) unmappedTotal() int {
	n := 0
	for _, ru := range u.unmapped {
		n += ru.allowed
		for _, c := range ru.denied {
			n += c
		}
	}
	return n
}
