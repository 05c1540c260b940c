package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/awra/awragate/policy"
)

// hmacSpec describes a scheme with one HMAC over a template of the body
// and optional timestamp and id headers, sent in one header with an
// optional fixed prefix. Paystack, QuickBooks, GitHub, Shopify, Slack and
// the generic "hmac" provider all have this shape.
type hmacSpec struct {
	provider        string
	signatureHeader string
	algorithm       string
	encoding        sigEncoding
	prefix          string
	timestampHeader string
	idHeader        string
	template        string

	// deliveryHeader is an unsigned header with the provider's delivery
	// id, returned by DeliveryID and filled by Sign.
	deliveryHeader string
}

// providerSpecs are the fixed schemes, as each provider documents them.
var providerSpecs = map[string]hmacSpec{
	ProviderPaystack: {
		provider:        ProviderPaystack,
		signatureHeader: "X-Paystack-Signature",
		algorithm:       "sha512",
		encoding:        encodingHex,
		template:        "{body}",
	},
	ProviderQuickBooks: {
		provider:        ProviderQuickBooks,
		signatureHeader: "Intuit-Signature",
		algorithm:       "sha256",
		encoding:        encodingBase64,
		template:        "{body}",
	},
	ProviderGitHub: {
		provider:        ProviderGitHub,
		signatureHeader: "X-Hub-Signature-256",
		algorithm:       "sha256",
		encoding:        encodingHex,
		prefix:          "sha256=",
		template:        "{body}",
		deliveryHeader:  "X-GitHub-Delivery",
	},
	ProviderShopify: {
		provider:        ProviderShopify,
		signatureHeader: "X-Shopify-Hmac-Sha256",
		algorithm:       "sha256",
		encoding:        encodingBase64,
		template:        "{body}",
		deliveryHeader:  "X-Shopify-Webhook-Id",
	},
	ProviderSlack: {
		provider:        ProviderSlack,
		signatureHeader: "X-Slack-Signature",
		algorithm:       "sha256",
		encoding:        encodingHex,
		prefix:          "v0=",
		timestampHeader: "X-Slack-Request-Timestamp",
		template:        "v0:{timestamp}:{body}",
	},
}

// hmacScheme verifies and signs deliveries described by an hmacSpec.
type hmacScheme struct {
	provider     string
	signature    headerField
	timestamp    headerField // key is "" when the scheme has no timestamp
	id           headerField // key is "" when the scheme has no id
	delivery     string      // canonical delivery header, or ""
	prefix       string
	encoding     sigEncoding
	size         int
	parts        []templatePart
	idForbidden  string
	keys         []*macKey
	tolerance    time.Duration
	windowDetail string
}

func newHMACScheme(spec hmacSpec, secrets []string, tolerance time.Duration) (*hmacScheme, error) {
	algorithm := hashByName[spec.algorithm]
	keys, err := rawKeys(secrets, algorithm)
	if err != nil {
		return nil, err
	}
	parts, idForbidden, err := parseTemplate(spec.template, spec.timestampHeader != "", spec.idHeader != "")
	if err != nil {
		return nil, err
	}

	size := keys[0].size
	s := &hmacScheme{
		provider:     spec.provider,
		signature:    newHeaderField(spec.signatureHeader, signatureFormat(spec.prefix, spec.encoding, size)),
		prefix:       spec.prefix,
		encoding:     spec.encoding,
		size:         size,
		parts:        parts,
		idForbidden:  idForbidden,
		keys:         keys,
		tolerance:    tolerance,
		windowDetail: windowDetail(tolerance),
	}
	if spec.timestampHeader != "" {
		s.timestamp = newHeaderField(spec.timestampHeader, timestampFormat)
	}
	if spec.idHeader != "" {
		s.id = newHeaderField(spec.idHeader, idFormat(idForbidden))
	}
	if spec.deliveryHeader != "" {
		s.delivery = textproto.CanonicalMIMEHeaderKey(spec.deliveryHeader)
	} else {
		s.delivery = s.id.key
	}
	return s, nil
}

// newGenericScheme checks the options of the "hmac" provider and builds
// its scheme.
func newGenericScheme(o HMACOptions, secrets []string, tolerance time.Duration) (*hmacScheme, error) {
	if o.Header == "" {
		return nil, errors.New("hmac header is missing: set the name of the header that carries the signature")
	}
	for _, name := range []string{o.Header, o.TimestampHeader, o.IDHeader} {
		if name != "" && !validHeaderName(name) {
			return nil, fmt.Errorf("invalid header name '%s': use letters, digits and '-'", name)
		}
	}
	names := map[string]bool{}
	for _, name := range []string{o.Header, o.TimestampHeader, o.IDHeader} {
		key := textproto.CanonicalMIMEHeaderKey(name)
		if name != "" && names[key] {
			return nil, fmt.Errorf("header '%s' is configured twice: the signature, timestamp and id need separate headers", name)
		}
		names[key] = true
	}
	if _, ok := hashByName[o.Algorithm]; !ok {
		return nil, fmt.Errorf("invalid hmac algorithm '%s': use 'sha256' or 'sha512'", o.Algorithm)
	}
	encoding, ok := encodingByName[o.Encoding]
	if !ok {
		return nil, fmt.Errorf("invalid hmac encoding '%s': use 'hex' or 'base64'", o.Encoding)
	}
	if o.Prefix != "" && (len(o.Prefix) > 32 || !validID(o.Prefix)) {
		return nil, fmt.Errorf("invalid hmac prefix '%s': use up to 32 printable ASCII characters without spaces", o.Prefix)
	}

	tmpl := o.Template
	if tmpl == "" {
		if o.TimestampHeader != "" || o.IDHeader != "" {
			return nil, errors.New("hmac template is missing: with a timestamp or id header, set a template such as '{timestamp}.{body}'")
		}
		tmpl = "{body}"
	}

	return newHMACScheme(hmacSpec{
		provider:        ProviderHMAC,
		signatureHeader: o.Header,
		algorithm:       o.Algorithm,
		encoding:        encoding,
		prefix:          o.Prefix,
		timestampHeader: o.TimestampHeader,
		idHeader:        o.IDHeader,
		template:        tmpl,
	}, secrets, tolerance)
}

func (s *hmacScheme) verify(now time.Time, h http.Header, body []byte) Result {
	value, r := s.signature.read(h)
	if !r.OK() {
		return r
	}
	var f signedFields
	if s.timestamp.key != "" {
		if f.stamp, r = s.timestamp.read(h); !r.OK() {
			return r
		}
	}
	if s.id.key != "" {
		if f.id, r = s.id.read(h); !r.OK() {
			return r
		}
		if !validID(f.id) || strings.ContainsAny(f.id, s.idForbidden) {
			return deny(policy.ReasonSignatureInvalid, s.id.malformed)
		}
	}

	var cands candidates
	if !parseHMACSignature(value, s.prefix, s.encoding, cands.next(s.size)) {
		return deny(policy.ReasonSignatureInvalid, s.signature.malformed)
	}
	cands.commit()

	var seconds int64
	kind := timestampSeconds
	if s.timestamp.key != "" {
		if seconds, kind = parseTimestamp(f.stamp); kind == timestampMalformed {
			return deny(policy.ReasonSignatureInvalid, s.timestamp.malformed)
		}
	}

	secret := matchSecret(s.keys, s.parts, f.stamp, f.id, body, &cands)
	if secret < 0 {
		return deny(policy.ReasonSignatureInvalid, detailMismatch)
	}

	if s.timestamp.key != "" {
		if f.at, r = checkTimestamp(now, seconds, kind, s.tolerance, s.windowDetail); !r.OK() {
			return r
		}
	}
	return accepted(s.provider, secret, body, f, s.tolerance, false)
}

// parseHMACSignature checks that value is prefix followed by one canonical
// encoding of len(dst) bytes and decodes it into dst. The prefix is
// compared exactly, so "SHA256=" does not pass for "sha256=".
func parseHMACSignature(value, prefix string, e sigEncoding, dst []byte) bool {
	encoded, ok := strings.CutPrefix(value, prefix)
	return ok && decodeSignature(e, encoded, dst)
}

func (s *hmacScheme) sign(now time.Time, id string, body []byte) (http.Header, error) {
	h := http.Header{}
	var stamp string
	if s.timestamp.key != "" {
		var err error
		if stamp, err = formatTimestamp(now); err != nil {
			return nil, err
		}
		h[s.timestamp.key] = []string{stamp}
	}
	if s.id.key != "" {
		if !validID(id) || strings.ContainsAny(id, s.idForbidden) {
			return nil, fmt.Errorf("invalid message id '%s': use %s", id, idFormat(s.idForbidden))
		}
		h[s.id.key] = []string{id}
	} else if s.delivery != "" && id != "" {
		if !validID(id) {
			return nil, fmt.Errorf("invalid delivery id '%s': use 1 to 256 printable ASCII characters without spaces", id)
		}
		h[s.delivery] = []string{id}
	}

	mac := computeMAC(s.keys[0], s.parts, stamp, id, body)
	h[s.signature.key] = []string{s.prefix + s.encoding.encode(mac)}
	return h, nil
}

func (s *hmacScheme) deliveryID(h http.Header) string {
	return readDeliveryID(h, s.delivery)
}

// detailMismatch is the only public text for a wrong signature: it does not
// say which secret or which candidate came closest.
const detailMismatch = "the signature does not match"

func signatureFormat(prefix string, e sigEncoding, size int) string {
	if prefix == "" {
		return e.describe(size)
	}
	return "'" + prefix + "' followed by " + e.describe(size)
}

// idFormat completes "must be ..." for an id that may not contain the
// bytes of forbidden.
func idFormat(forbidden string) string {
	format := "1 to 256 printable ASCII characters without spaces"
	seen := map[rune]bool{}
	for _, c := range forbidden {
		if !seen[c] {
			seen[c] = true
			format += fmt.Sprintf(" or %q", c)
		}
	}
	return format
}

// validHeaderName reports whether name is 1 to 64 letters, digits and '-'.
func validHeaderName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
