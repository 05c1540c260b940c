// Package webhook verifies the signatures that webhook providers put on
// their deliveries, and produces the same signatures for tests and for the
// "awragate webhook sign" command.
//
// A Verifier is built once from a Config with New and is then safe for
// concurrent use. Verify checks one delivery against the exact bytes of the
// request body. It takes the time as a parameter, keeps no state between
// calls and returns every failure, malformed input included, as a Result
// with a policy reason code.
//
// Replay and duplicate detection need state that every gateway instance
// shares, which this package does not keep. After a delivery passes Verify,
// the caller:
//
//  1. Stores Result.ReplayKey, when it is not zero, with SET NX and an
//     expiry at Result.ReplayExpires plus the clock skew expected between
//     instances. If the key already exists, the same signed bytes arrived
//     before: respond 409 with policy.ReasonWebhookReplayed.
//  2. Looks up Result.DuplicateKey. If it exists, the event was already
//     delivered: respond 200 without forwarding and audit
//     policy.ReasonWebhookDuplicate.
//  3. Forwards the request. After a 2xx response from the upstream it
//     stores DuplicateKey for as long as the provider retries. After an
//     upstream failure it deletes ReplayKey, so that a provider that resends
//     the same signed bytes gets through.
//
// Both keys are scoped by provider only, so the caller prefixes them with
// the route's identity when several routes use the same provider. Neither
// key is ever derived from an unsigned header. DeliveryID reads such a
// header and is meant for the audit trail only.
package webhook

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Provider names accepted in Config.Provider.
const (
	// ProviderPaystack: x-paystack-signature, hex HMAC-SHA512 of the body,
	// keyed with the secret API key.
	ProviderPaystack = "paystack"

	// ProviderQuickBooks: intuit-signature, base64 HMAC-SHA256 of the body,
	// keyed with the verifier token.
	ProviderQuickBooks = "quickbooks"

	// ProviderStripe: Stripe-Signature "t=<seconds>,v1=<hex>", HMAC-SHA256
	// of "<t>.<body>" keyed with the whole "whsec_..." string.
	ProviderStripe = "stripe"

	// ProviderGitHub: X-Hub-Signature-256 "sha256=<hex>", HMAC-SHA256 of
	// the body.
	ProviderGitHub = "github"

	// ProviderShopify: X-Shopify-Hmac-Sha256, base64 HMAC-SHA256 of the
	// body, keyed with the app's client secret.
	ProviderShopify = "shopify"

	// ProviderSlack: X-Slack-Signature "v0=<hex>", HMAC-SHA256 of
	// "v0:<X-Slack-Request-Timestamp>:<body>".
	ProviderSlack = "slack"

	// ProviderStandard: Standard Webhooks (Svix), HMAC-SHA256 of
	// "<webhook-id>.<webhook-timestamp>.<body>" keyed with the base64-decoded
	// part of "whsec_<base64>".
	ProviderStandard = "standard"

	// ProviderHMAC: a generic scheme configured with HMACOptions.
	ProviderHMAC = "hmac"
)

// DefaultTolerance is the timestamp window used when Config.Tolerance is
// zero: a delivery passes when its timestamp is at most this far from now,
// in either direction.
const DefaultTolerance = 5 * time.Minute

// MaxTolerance is the largest Config.Tolerance accepted. A wider window
// lets a captured delivery be replayed for longer and makes the replay
// store hold more keys.
const MaxTolerance = time.Hour

// Providers returns the accepted provider names.
func Providers() []string {
	return []string{
		ProviderPaystack, ProviderQuickBooks, ProviderStripe, ProviderGitHub,
		ProviderShopify, ProviderSlack, ProviderStandard, ProviderHMAC,
	}
}

// Config selects a provider's scheme and its secrets.
type Config struct {
	// Provider is one of the Provider* names, in lower case.
	Provider string

	// Secrets are the active signing secrets, 1 to MaxSecrets of them. A
	// delivery passes when it matches any of them, which allows a rotation
	// without downtime. Sign uses the first. Each is used as the provider
	// shows it: the raw bytes are the HMAC key, except for "standard",
	// where the key is the base64-decoded part after "whsec_" and must be
	// at least 24 bytes. A "stripe" secret must start with "whsec_" and is
	// used whole, prefix included.
	Secrets []string

	// Tolerance is the maximum distance between a delivery's timestamp and
	// the time passed to Verify, in either direction. Zero means
	// DefaultTolerance (5 minutes). It must be between 1 second and
	// MaxTolerance. Providers without a timestamp ignore it.
	Tolerance time.Duration

	// HMAC configures the "hmac" provider. It must be empty for every
	// other provider.
	HMAC HMACOptions
}

// HMACOptions configures the generic "hmac" provider: one HMAC over a
// signed string built from a template, sent in one header.
type HMACOptions struct {
	// Header is the name of the header that carries the signature.
	// Required.
	Header string

	// Algorithm is "sha256" or "sha512". Required.
	Algorithm string

	// Encoding of the signature: "hex" (lower-case digits) or "base64"
	// (standard alphabet with padding). Required.
	Encoding string

	// Prefix is text that comes before the encoded signature, for example
	// "sha256=". It is compared exactly, case included. Optional.
	Prefix string

	// TimestampHeader names a header with the send time as 10 digits of
	// Unix seconds. When set, the timestamp must be signed (the template
	// contains {timestamp}) and is checked against Config.Tolerance.
	// Optional.
	TimestampHeader string

	// IDHeader names a header with a message id. When set, the id must be
	// signed (the template contains {id}) and is returned as
	// Result.EventID. Optional.
	IDHeader string

	// Template is the signed string: literal text with the placeholders
	// {body} (exactly once), {timestamp} (once, if and only if
	// TimestampHeader is set) and {id} (once, if and only if IDHeader is
	// set). Literal braces are not allowed. Defaults to "{body}" when
	// neither header is set and is required otherwise, for example
	// "{timestamp}.{body}".
	Template string
}

// Verifier checks the signatures of one provider's deliveries. It is
// built by New, holds the precomputed HMAC keys and is safe for concurrent
// use.
type Verifier struct {
	provider  string
	tolerance time.Duration
	scheme    scheme
}

// scheme is one provider's way of signing a delivery.
type scheme interface {
	verify(now time.Time, h http.Header, body []byte) Result
	sign(now time.Time, id string, body []byte) (http.Header, error)
	deliveryID(h http.Header) string
}

// New checks cfg and builds a Verifier. Any setting that could let an
// unsigned delivery pass is an error. Examples are an unknown provider, a
// missing or empty secret, a Standard Webhooks secret that does not decode
// to at least 24 bytes, and a generic template that leaves the timestamp
// or id unsigned. Error messages name the setting and never contain a
// secret.
func New(cfg Config) (*Verifier, error) {
	tolerance, err := checkTolerance(cfg.Tolerance)
	if err != nil {
		return nil, err
	}

	if cfg.Provider != ProviderHMAC && cfg.HMAC != (HMACOptions{}) {
		return nil, fmt.Errorf("hmac options are set for provider '%s': they apply only to provider 'hmac', so remove them", cfg.Provider)
	}

	var s scheme
	switch cfg.Provider {
	case ProviderStripe:
		s, err = newStripeScheme(cfg.Secrets, tolerance)
	case ProviderStandard:
		s, err = newStandardScheme(cfg.Secrets, tolerance)
	case ProviderHMAC:
		s, err = newGenericScheme(cfg.HMAC, cfg.Secrets, tolerance)
	default:
		spec, ok := providerSpecs[cfg.Provider]
		if !ok {
			return nil, fmt.Errorf("unknown webhook provider '%s': use one of %s", cfg.Provider, strings.Join(Providers(), ", "))
		}
		s, err = newHMACScheme(spec, cfg.Secrets, tolerance)
	}
	if err != nil {
		return nil, fmt.Errorf("webhook provider '%s': %w", cfg.Provider, err)
	}
	return &Verifier{provider: cfg.Provider, tolerance: tolerance, scheme: s}, nil
}

// Provider returns the provider name the Verifier was built for.
func (v *Verifier) Provider() string { return v.provider }

// Tolerance returns the timestamp window in effect, after the default is
// applied.
func (v *Verifier) Tolerance() time.Duration { return v.tolerance }

// Verify checks the signature of a delivery with headers h and the exact
// body bytes received, at time now. A zero Result.Reason means the delivery
// is authentic and its timestamp, if the scheme has one, is within the
// tolerance. h must use canonical header keys, as net/http builds them. A
// signature, timestamp or id header sent more than once is rejected.
// Verify does not allocate, and no input makes it panic.
func (v *Verifier) Verify(now time.Time, h http.Header, body []byte) Result {
	return v.scheme.verify(now, h, body)
}

// Sign returns the headers the provider would send with body at time now,
// signed with the first secret. id is the message id, which "standard"
// and "hmac" with an IDHeader require. For "github" and "shopify" a
// non-empty id fills the delivery header. Other providers ignore it.
func (v *Verifier) Sign(now time.Time, id string, body []byte) (http.Header, error) {
	return v.scheme.sign(now, id, body)
}

// DeliveryID returns the provider's delivery id for the audit trail, or ""
// when the provider sends none, sends the header more than once or the
// value is not 1 to 256 printable ASCII characters other than space. For most providers the id comes from an unsigned
// header that anyone can change, so never use it for replay or duplicate
// detection.
func (v *Verifier) DeliveryID(h http.Header) string {
	return v.scheme.deliveryID(h)
}

// Sign builds a Verifier from cfg and signs body with it, for callers that
// sign once, such as the CLI. See Verifier.Sign.
func Sign(cfg Config, now time.Time, id string, body []byte) (http.Header, error) {
	v, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return v.Sign(now, id, body)
}

func checkTolerance(d time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return DefaultTolerance, nil
	case d < time.Second || d > MaxTolerance:
		return 0, fmt.Errorf("invalid webhook tolerance '%s': use a duration from 1s to %s", d, MaxTolerance)
	}
	return d, nil
}
