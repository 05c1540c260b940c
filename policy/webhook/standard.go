package webhook

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/awra/awragate/policy"
)

const (
	standardSecretPrefix = "whsec_"

	// minStandardKeyBytes is the shortest decoded key accepted: 192 bits.
	minStandardKeyBytes = 24
)

// standardParts is the signed content: "<id>.<timestamp>.<body>".
//
// An id that contains ".<10 digits>." could be re-cut into a shorter id and
// a timestamp, with the rest moved to the front of the body. That needs the
// provider to sign such an id, so ids are only checked for printable ASCII.
var standardParts = []templatePart{
	{kind: partID},
	{kind: partLiteral, literal: []byte(".")},
	{kind: partTimestamp},
	{kind: partLiteral, literal: []byte(".")},
	{kind: partBody},
}

// standardHeaderSet is one naming of the three headers: the specification's
// "webhook-*" or Svix's older "svix-*".
type standardHeaderSet struct {
	id, timestamp, signature headerField
}

const standardSignatureFormat = "a space-separated list of 'v1,<standard base64 of 32 bytes>'"

var standardHeaderSets = [2]standardHeaderSet{
	{
		id:        newHeaderField("webhook-id", "1 to 256 printable ASCII characters without spaces"),
		timestamp: newHeaderField("webhook-timestamp", timestampFormat),
		signature: newHeaderField("webhook-signature", standardSignatureFormat),
	},
	{
		id:        newHeaderField("svix-id", "1 to 256 printable ASCII characters without spaces"),
		timestamp: newHeaderField("svix-timestamp", timestampFormat),
		signature: newHeaderField("svix-signature", standardSignatureFormat),
	},
}

// standardScheme verifies Standard Webhooks (Svix) signatures.
type standardScheme struct {
	keys         []*macKey
	tolerance    time.Duration
	windowDetail string
}

func newStandardScheme(secrets []string, tolerance time.Duration) (*standardScheme, error) {
	if err := checkSecrets(secrets); err != nil {
		return nil, err
	}
	keys := make([]*macKey, len(secrets))
	for i, s := range secrets {
		key, ok := decodeStandardSecret(s)
		if !ok {
			return nil, fmt.Errorf("secret %d is not a Standard Webhooks secret: use '%s' followed by the standard base64, with padding, of at least %d bytes", i+1, standardSecretPrefix, minStandardKeyBytes)
		}
		keys[i] = newMACKey(sha256.New, key)
	}
	return &standardScheme{keys: keys, tolerance: tolerance, windowDetail: windowDetail(tolerance)}, nil
}

// decodeStandardSecret returns the key of a "whsec_<base64>" secret.
// Decoding is strict: the standard alphabet, padding as needed, zero
// trailing bits and no line breaks.
func decodeStandardSecret(s string) ([]byte, bool) {
	encoded, ok := strings.CutPrefix(s, standardSecretPrefix)
	if !ok || len(encoded)%4 != 0 {
		return nil, false
	}
	for i := 0; i < len(encoded); i++ {
		if !isBase64Byte(encoded[i]) {
			return nil, false
		}
	}
	key, err := strictBase64.DecodeString(encoded)
	if err != nil || len(key) < minStandardKeyBytes {
		return nil, false
	}
	return key, true
}

// headerSet picks the "webhook-*" headers when a webhook-signature header
// is present, else the "svix-*" ones when svix-signature is, else the
// "webhook-*" ones, which then report the signature as missing. The id and
// timestamp always come from the same set as the signature.
func (s *standardScheme) headerSet(h http.Header) *standardHeaderSet {
	if _, ok := h[standardHeaderSets[0].signature.key]; !ok {
		if _, ok := h[standardHeaderSets[1].signature.key]; ok {
			return &standardHeaderSets[1]
		}
	}
	return &standardHeaderSets[0]
}

func (s *standardScheme) verify(now time.Time, h http.Header, body []byte) Result {
	set := s.headerSet(h)
	value, r := set.signature.read(h)
	if !r.OK() {
		return r
	}
	var f signedFields
	if f.id, r = set.id.read(h); !r.OK() {
		return r
	}
	if f.stamp, r = set.timestamp.read(h); !r.OK() {
		return r
	}
	if !validID(f.id) {
		return deny(policy.ReasonSignatureInvalid, set.id.malformed)
	}

	var cands candidates
	if !parseStandardSignatures(value, &cands) {
		return deny(policy.ReasonSignatureInvalid, set.signature.malformed)
	}
	seconds, kind := parseTimestamp(f.stamp)
	if kind == timestampMalformed {
		return deny(policy.ReasonSignatureInvalid, set.timestamp.malformed)
	}

	secret := matchSecret(s.keys, standardParts, f.stamp, f.id, body, &cands)
	if secret < 0 {
		return deny(policy.ReasonSignatureInvalid, detailMismatch)
	}

	if f.at, r = checkTimestamp(now, seconds, kind, s.tolerance, s.windowDetail); !r.OK() {
		return r
	}
	return accepted(ProviderStandard, secret, body, f, s.tolerance, true)
}

// parseStandardSignatures reads a space-separated list of
// "<version>,<signature>" entries and adds the decoded v1 signatures to
// cands. Other versions, such as the asymmetric "v1a", are ignored, but
// every entry must have the "<version>,<signature>" shape and every v1
// signature must be the standard base64 of 32 bytes. At least one v1 is
// required.
func parseStandardSignatures(value string, cands *candidates) bool {
	items := 0
	for rest, more := value, true; more; {
		var entry string
		entry, rest, more = strings.Cut(rest, " ")
		if items++; items > maxHeaderItems {
			return false
		}

		version, sig, ok := strings.Cut(entry, ",")
		if !ok || !isVersionName(version) || !validID(sig) {
			return false
		}
		if version != "v1" {
			continue
		}
		dst := cands.next(sha256.Size)
		if dst == nil || !decodeStdBase64(sig, dst) {
			return false
		}
		cands.commit()
	}
	return cands.n > 0
}

func (s *standardScheme) sign(now time.Time, id string, body []byte) (http.Header, error) {
	if !validID(id) {
		return nil, fmt.Errorf("invalid message id '%s': use 1 to 256 printable ASCII characters without spaces", id)
	}
	stamp, err := formatTimestamp(now)
	if err != nil {
		return nil, err
	}
	mac := computeMAC(s.keys[0], standardParts, stamp, id, body)

	set := &standardHeaderSets[0]
	h := http.Header{}
	h[set.id.key] = []string{id}
	h[set.timestamp.key] = []string{stamp}
	h[set.signature.key] = []string{"v1," + encodingBase64.encode(mac)}
	return h, nil
}

// deliveryID returns the message id. It is signed, but DeliveryID reads
// it without verifying, so it is still for the audit trail only.
func (s *standardScheme) deliveryID(h http.Header) string {
	return readDeliveryID(h, s.headerSet(h).id.key)
}
