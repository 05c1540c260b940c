package review

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Policy holds the thresholds the gates judge against. DefaultPolicy
// returns the documented defaults. Its JSON form is MarshalJSON's.
type Policy struct {
	// MaxKeyLifetime is the longest an API key may live from creation to
	// expiry. Default 365 days.
	MaxKeyLifetime time.Duration

	// MaxKeyLifetimeSource names the origin of MaxKeyLifetime: "default",
	// "config apps.awra.max_key_lifetime" or "flag --max-key-lifetime".
	MaxKeyLifetimeSource string

	// ExpiryNotice is the time before expiry within which active keys are
	// listed. Default 14 days.
	ExpiryNotice time.Duration

	// MaxURLTTL is the longest max_ttl a signed-URL route may accept.
	// Default 24 hours.
	MaxURLTTL time.Duration

	// MinURLSecret is the shortest signed-URL secret, in bytes. Default 32.
	MinURLSecret int

	// URLKeyRotation is the oldest a signed-URL key may be. Default 90
	// days.
	URLKeyRotation time.Duration

	// SigningKeyCreated gives the creation date of signed-URL keys by key
	// id. It takes precedence over a date in the key id.
	SigningKeyCreated map[string]time.Time

	// SourceCIDRProviders are the webhook providers whose routes must set
	// source_cidrs because the provider publishes its sending addresses.
	SourceCIDRProviders []string
}

// Defaults of Policy.
const (
	DefaultMaxKeyLifetime = 365 * day
	DefaultExpiryNotice   = 14 * day
	DefaultMaxURLTTL      = 24 * time.Hour
	DefaultMinURLSecret   = 32
	DefaultURLKeyRotation = 90 * day
)

// DefaultSourceCIDRProviders are the providers treated as publishing the
// addresses their webhooks come from. Stripe lists webhook IP addresses
// on docs.stripe.com/ips. GitHub returns them in the "hooks" field of its
// Meta API (GET /meta). Paystack lists them in its webhook documentation.
// Shopify is not included, because its staff state on community.shopify.dev
// that webhook deliveries have no fixed IP range and that HMAC validation
// is the intended check.
//
// NOTE: Paystack's own page could not be opened while this list was
// written; the entry rests on the brief and on memory of that page.
var DefaultSourceCIDRProviders = []string{"github", "paystack", "stripe"}

// DefaultPolicy returns the policy with every default.
func DefaultPolicy() Policy {
	return Policy{
		MaxKeyLifetime:       DefaultMaxKeyLifetime,
		MaxKeyLifetimeSource: "default",
		ExpiryNotice:         DefaultExpiryNotice,
		MaxURLTTL:            DefaultMaxURLTTL,
		MinURLSecret:         DefaultMinURLSecret,
		URLKeyRotation:       DefaultURLKeyRotation,
		SourceCIDRProviders:  slices.Clone(DefaultSourceCIDRProviders),
	}
}

// KeyDate is the creation date of a signed-URL key and how it is known.
type KeyDate struct {
	Created time.Time `json:"created"`

	// Source is "review option" for a date given with SigningKeyCreated,
	// or "key id" for a date read from the id.
	Source string `json:"source"`

	// Precision is "day", "month" or "year". A key id with only a year
	// counts from January 1 and one with a month from its first day, so
	// the age is never underestimated.
	Precision string `json:"precision"`
}

// keyIDDate finds a date in a key id: YYYYMMDD, YYYY-MM-DD, YYYYMM,
// YYYY-MM or YYYY, with a year from 1970 to 2099, not inside a longer run
// of digits. The rightmost date wins, so "k2-20260115" is 2026-01-15.
var keyIDDate = regexp.MustCompile(`(?:^|[^0-9])((?:19[7-9][0-9]|20[0-9]{2})(?:(-?)(0[1-9]|1[0-2])(?:(-?)(0[1-9]|[12][0-9]|3[01]))?)?)(?:[^0-9]|$)`)

// SigningKeyDate returns the creation date of the signed-URL key id: from
// p.SigningKeyCreated when it names the key, else from a date in the id.
// It reports false when neither gives one.
func (p Policy) SigningKeyDate(id string) (KeyDate, bool) {
	if t, ok := p.SigningKeyCreated[id]; ok {
		return KeyDate{Created: t.UTC(), Source: "review option", Precision: "day"}, true
	}
	return dateInKeyID(id)
}

func dateInKeyID(id string) (KeyDate, bool) {
	matches := keyIDDate.FindAllStringSubmatch(id, -1)
	for i := len(matches) - 1; i >= 0; i-- {
		m := matches[i]
		year, _ := strconv.Atoi(m[1][:4])
		month, day, precision := 1, 1, "year"
		if m[3] != "" {
			month, _ = strconv.Atoi(m[3])
			precision = "month"
		}
		if m[5] != "" {
			if m[2] != m[4] {
				continue // mixed separators such as 2026-0115
			}
			day, _ = strconv.Atoi(m[5])
			precision = "day"
		}
		t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		if t.Day() != day {
			continue // 2026-02-31 and the like
		}
		return KeyDate{Created: t, Source: "key id", Precision: precision}, true
	}
	return KeyDate{}, false
}

// MarshalJSON writes the durations of p as text such as "365d" or "24h",
// for people who read report.json.
func (p Policy) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		MaxKeyLifetime       string               `json:"max_key_lifetime"`
		MaxKeyLifetimeSource string               `json:"max_key_lifetime_source"`
		ExpiryNotice         string               `json:"expiry_notice"`
		MaxURLTTL            string               `json:"max_url_ttl"`
		MinURLSecret         int                  `json:"min_url_secret_bytes"`
		URLKeyRotation       string               `json:"url_key_rotation"`
		SigningKeyCreated    map[string]time.Time `json:"signing_key_created,omitempty"`
		SourceCIDRProviders  []string             `json:"source_cidr_providers"`
	}{
		FormatDuration(p.MaxKeyLifetime), p.MaxKeyLifetimeSource, FormatDuration(p.ExpiryNotice),
		FormatDuration(p.MaxURLTTL), p.MinURLSecret, FormatDuration(p.URLKeyRotation),
		p.SigningKeyCreated, p.SourceCIDRProviders,
	})
}
