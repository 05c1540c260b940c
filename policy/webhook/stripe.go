package webhook

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/awra/awragate/policy"
)

// stripeSecretPrefix starts every Stripe endpoint signing secret. Requiring
// it catches an API key ("sk_...") pasted into the wrong setting.
const stripeSecretPrefix = "whsec_"

// stripeParts is Stripe's signed payload: "<t>.<body>".
var stripeParts = []templatePart{
	{kind: partTimestamp},
	{kind: partLiteral, literal: []byte(".")},
	{kind: partBody},
}

// stripeScheme verifies the Stripe-Signature header.
// stripeSignatureHeader carries Stripe's timestamp and signatures.
const stripeSignatureHeader = "Stripe-Signature"

type stripeScheme struct {
	signature    headerField
	keys         []*macKey
	tolerance    time.Duration
	windowDetail string
}

func newStripeScheme(secrets []string, tolerance time.Duration) (*stripeScheme, error) {
	if err := checkSecrets(secrets); err != nil {
		return nil, err
	}
	for i, s := range secrets {
		if !strings.HasPrefix(s, stripeSecretPrefix) || len(s) == len(stripeSecretPrefix) {
			return nil, fmt.Errorf("secret %d is not a Stripe endpoint signing secret: use the endpoint's secret, which starts with '%s', not an API key", i+1, stripeSecretPrefix)
		}
	}
	// The HMAC key is the whole secret string, "whsec_" included.
	keys, err := rawKeys(secrets, sha256.New)
	if err != nil {
		return nil, err
	}
	return &stripeScheme{
		signature:    newHeaderField(stripeSignatureHeader, "'t=<10-digit Unix seconds>,v1=<64 lower-case hex digits>'"),
		keys:         keys,
		tolerance:    tolerance,
		windowDetail: windowDetail(tolerance),
	}, nil
}

func (s *stripeScheme) verify(now time.Time, h http.Header, body []byte) Result {
	value, r := s.signature.read(h)
	if !r.OK() {
		return r
	}

	var cands candidates
	stamp, ok := parseStripeHeader(value, &cands)
	if !ok {
		return deny(policy.ReasonSignatureInvalid, s.signature.malformed)
	}
	seconds, kind := parseTimestamp(stamp)
	if kind == timestampMalformed {
		return deny(policy.ReasonSignatureInvalid, s.signature.malformed)
	}

	secret := matchSecret(s.keys, stripeParts, stamp, "", body, &cands)
	if secret < 0 {
		return deny(policy.ReasonSignatureInvalid, detailMismatch)
	}

	f := signedFields{stamp: stamp}
	if f.at, r = checkTimestamp(now, seconds, kind, s.tolerance, s.windowDetail); !r.OK() {
		return r
	}
	return accepted(ProviderStripe, secret, body, f, s.tolerance, false)
}

// maxHeaderItems bounds the comma- or space-separated items read from one
// signature header.
const maxHeaderItems = 16

// parseStripeHeader reads "t=<timestamp>,v1=<hex>[,v1=<hex>][,v0=<hex>]"
// and returns the timestamp text, with the decoded v1 signatures added to
// cands. Items are "key=value" with no spaces, and t must appear exactly
// once. v0 and other schemes are ignored: only v1 is an HMAC-SHA256 under
// the endpoint secret, and accepting another scheme would open a downgrade.
// Every v1 must be 64 lower-case hex digits, and at least one is required.
func parseStripeHeader(value string, cands *candidates) (string, bool) {
	var stamp string
	haveStamp := false
	items := 0
	for rest, more := value, true; more; {
		var item string
		item, rest, more = strings.Cut(rest, ",")
		if items++; items > maxHeaderItems {
			return "", false
		}

		key, val, ok := strings.Cut(item, "=")
		if !ok || !isVersionName(key) || !validID(val) {
			return "", false
		}
		switch key {
		case "t":
			if haveStamp {
				return "", false
			}
			stamp, haveStamp = val, true
		case "v1":
			dst := cands.next(sha256.Size)
			if dst == nil || !decodeLowerHex(val, dst) {
				return "", false
			}
			cands.commit()
		}
	}
	return stamp, haveStamp && cands.n > 0
}

func (s *stripeScheme) sign(now time.Time, _ string, body []byte) (http.Header, error) {
	stamp, err := formatTimestamp(now)
	if err != nil {
		return nil, err
	}
	mac := computeMAC(s.keys[0], stripeParts, stamp, "", body)
	h := http.Header{}
	h[s.signature.key] = []string{"t=" + stamp + ",v1=" + encodingHex.encode(mac)}
	return h, nil
}

// deliveryID returns "": Stripe sends its event id only inside the body.
func (s *stripeScheme) deliveryID(http.Header) string { return "" }
