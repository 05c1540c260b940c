package review

import (
	"slices"
	"strings"
	"time"
)

// SignedURLEvidence is one signed-URL route with its keys' ages and its
// limits.
type SignedURLEvidence struct {
	Route     RouteRef             `json:"route"`
	MaxTTL    string               `json:"max_ttl"`
	ClockSkew string               `json:"clock_skew"`
	Keys      []SigningKeyEvidence `json:"keys"`
}

// SigningKeyEvidence is one signing key without its secret.
type SigningKeyEvidence struct {
	ID           string     `json:"id"`
	SecretLength int        `json:"secret_length"`
	SecretSource string     `json:"secret_source"`
	Created      *time.Time `json:"created,omitempty"`
	DateSource   string     `json:"created_source,omitempty"`
	Precision    string     `json:"created_precision,omitempty"`
	AgeDays      *int       `json:"age_days,omitempty"`
}

func signedURLEvidence(d *Deployment, p Policy, now time.Time) []SignedURLEvidence {
	out := []SignedURLEvidence{}
	for _, r := range d.SignedURLRoutes {
		e := SignedURLEvidence{Route: r.RouteRef, MaxTTL: FormatDuration(r.MaxTTL), ClockSkew: FormatDuration(r.ClockSkew), Keys: []SigningKeyEvidence{}}
		for _, k := range r.Keys {
			ke := SigningKeyEvidence{ID: k.ID, SecretLength: k.Secret.Length, SecretSource: secretSource(k.Secret)}
			if date, ok := p.SigningKeyDate(k.ID); ok {
				created := date.Created
				age := wholeDays(now.Sub(created))
				ke.Created, ke.DateSource, ke.Precision, ke.AgeDays = &created, date.Source, date.Precision, &age
			}
			e.Keys = append(e.Keys, ke)
		}
		slices.SortFunc(e.Keys, func(a, b SigningKeyEvidence) int { return strings.Compare(a.ID, b.ID) })
		out = append(out, e)
	}
	return out
}

// secretSource describes where a secret comes from without revealing it.
func secretSource(s SecretInfo) string {
	switch {
	case s.Source != "":
		return s.Source
	case len(s.Placeholders) > 0:
		return "placeholders " + strings.Join(s.Placeholders, ", ") + " with text written in the configuration"
	case s.Literal:
		return "written in the configuration"
	}
	return "empty"
}

// WebhookEvidence is one webhook route without its secrets.
type WebhookEvidence struct {
	Route         RouteRef `json:"route"`
	Provider      string   `json:"provider"`
	Publishes     bool     `json:"provider_publishes_addresses"`
	SecretCount   int      `json:"secret_count"`
	SecretSources []string `json:"secret_sources"`
	SourceCIDRs   []string `json:"source_cidrs"`
	Tolerance     string   `json:"tolerance"`
	MaxBody       int64    `json:"max_body"`
	ReplayWindow  string   `json:"replay_window"`
	MaxDeliveries int      `json:"max_deliveries"`
}

func webhookEvidence(d *Deployment, p Policy) []WebhookEvidence {
	out := []WebhookEvidence{}
	for _, r := range d.WebhookRoutes {
		e := WebhookEvidence{
			Route: r.RouteRef, Provider: r.Provider, Publishes: slices.Contains(p.SourceCIDRProviders, r.Provider),
			SecretCount: len(r.Secrets), SecretSources: []string{}, SourceCIDRs: r.SourceCIDRs,
			Tolerance: FormatDuration(r.Tolerance), MaxBody: r.MaxBody,
			ReplayWindow: FormatDuration(r.ReplayWindow), MaxDeliveries: r.MaxDeliveries,
		}
		for _, s := range r.Secrets {
			e.SecretSources = append(e.SecretSources, secretSource(s))
		}
		out = append(out, e)
	}
	return out
}

// auditEvidenceDoc is audit-verification.json.
type auditEvidenceDoc struct {
	AuditInput
	Error  string       `json:"error,omitempty"`
	Result *AuditResult `json:"result"`
}

func auditEvidence(in AuditInput) auditEvidenceDoc {
	doc := auditEvidenceDoc{AuditInput: in, Result: in.Result}
	if in.Err != nil {
		doc.Error = in.Err.Error()
	}
	return doc
}

// KeyUsageEvidence is one key id's decisions in the period. Key ids of
// denied requests need not exist in the keys file: they are what the
// presented tokens claimed.
type KeyUsageEvidence struct {
	KeyID     string        `json:"key_id"`
	Allowed   int           `json:"allowed"`
	Denied    int           `json:"denied"`
	Denials   []ReasonCount `json:"denials"`
	Throttled int           `json:"throttled"`
	Routes    []RouteCount  `json:"routes"`
}

// RouteCount is a number of allowed requests on one route.
type RouteCount struct {
	Route string `json:"route"`
	Count int    `json:"count"`
}

type usageDoc struct {
	Keys     []KeyUsageEvidence `json:"keys"`
	Routes   []RouteHealth      `json:"routes"`
	Unmapped []RouteHealth      `json:"unmapped"`
}

func usageEvidence(u *Usage, h Health) usageDoc {
	doc := usageDoc{Keys: []KeyUsageEvidence{}, Routes: h.Routes, Unmapped: h.Unmapped}
	if u == nil {
		return doc
	}
	for id, ku := range u.keys {
		e := KeyUsageEvidence{KeyID: id, Allowed: ku.allowed, Throttled: ku.throttled, Denials: []ReasonCount{}, Routes: []RouteCount{}}
		for reason, n := range ku.denied {
			e.Denied += n
			e.Denials = append(e.Denials, ReasonCount{Reason: reason, Count: n})
		}
		slices.SortFunc(e.Denials, func(a, b ReasonCount) int { return strings.Compare(a.Reason, b.Reason) })
		for h, n := range ku.routes {
			e.Routes = append(e.Routes, RouteCount{Route: u.d.router.handlers[h].ref.Label, Count: n})
		}
		slices.SortFunc(e.Routes, func(a, b RouteCount) int { return strings.Compare(a.Route, b.Route) })
		doc.Keys = append(doc.Keys, e)
	}
	slices.SortFunc(doc.Keys, func(a, b KeyUsageEvidence) int { return strings.Compare(a.KeyID, b.KeyID) })
	return doc
}
