package signedurl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/awra/awragate/policy"
)

// Config configures a Verifier.
type Config struct {
	// Keys maps each key id to its secret. Several keys may be active at
	// once, so links signed with an old key keep working during a
	// rotation. Key ids are 1 to 64 characters of a-z, 0-9 and '-', and
	// secrets are at least MinSecretLength bytes. At least one key is
	// required. NewVerifier copies the secrets.
	Keys map[string][]byte

	// MaxTTL is the longest lifetime a link may have, counted from the
	// time of the request to its expiry. Zero selects DefaultMaxTTL (24h).
	// The maximum is MaxTTLLimit (7 days).
	MaxTTL time.Duration

	// ClockSkew is the clock difference tolerated between signer and
	// verifier: a link stays valid this long after its expiry, and its
	// lifetime may exceed MaxTTL by this much. Zero selects
	// DefaultClockSkew (30s), so the smallest tolerance is 1ns. The
	// maximum is MaxClockSkew (5m).
	ClockSkew time.Duration
}

// Verifier checks signed URLs against a fixed set of keys. Build it once
// with NewVerifier. It is safe for concurrent use. An allowed request costs
// no allocation when its query has at most 32 parameters and its control
// parameters come first or last (Sign puts them last). Otherwise the
// forwarded query is one new string.
type Verifier struct {
	keys map[string]*verifierKey

	// decoy is keyed with a random secret. Verify computes a MAC with it
	// for an unknown key id, so timing does not reveal which key ids exist.
	decoy *verifierKey

	maxTTL    time.Duration
	clockSkew time.Duration
}

// verifierKey holds a pool of HMAC states keyed with one secret. The
// secret itself lives only in the pool's constructor.
type verifierKey struct {
	id   string
	pool sync.Pool
}

// macState is the per-call working memory of Verify, reused through the
// key's pool so that a verification allocates nothing.
type macState struct {
	mac       hash.Hash
	canonical []byte
	scratch   []byte
	sum       [sha256.Size]byte
}

// maxPooledBuffer bounds the buffers kept in a pool, so one long URL does
// not pin a large buffer for the life of the process.
const maxPooledBuffer = 4096

// Result is the outcome of Verify.
type Result struct {
	// Reason is empty when the link is valid, else the code of the first
	// failed check.
	Reason policy.Reason

	// KeyID is the key id the link names. When KeyKnown is false it is
	// the client's untrusted value, set only if it has the form of a key
	// id (1 to 64 of a-z, 0-9 and '-'), so it is safe to log.
	KeyID    string
	KeyKnown bool

	// Expires is the link's expiry in UTC. It is zero when X-Awra-Expires
	// is missing or malformed.
	Expires time.Time

	// Query is the raw query to forward upstream when the link is valid:
	// the request's query without the three control parameters, every
	// other piece byte for byte in its original order.
	Query string
}

// Allowed reports whether the link passed every check.
func (r Result) Allowed() bool { return r.Reason == policy.ReasonNone }

// NewVerifier validates cfg and prepares one HMAC pool per key. Errors
// name the offending key id or value and never a secret.
func NewVerifier(cfg Config) (*Verifier, error) {
	v := &Verifier{
		keys:      make(map[string]*verifierKey, len(cfg.Keys)),
		maxTTL:    cfg.MaxTTL,
		clockSkew: cfg.ClockSkew,
	}

	switch {
	case v.maxTTL == 0:
		v.maxTTL = DefaultMaxTTL
	case v.maxTTL < 0 || v.maxTTL > MaxTTLLimit:
		return nil, fmt.Errorf("invalid max_ttl '%s': use a duration above 0 and at most %s", v.maxTTL, MaxTTLLimit)
	}
	switch {
	case v.clockSkew == 0:
		v.clockSkew = DefaultClockSkew
	case v.clockSkew < 0 || v.clockSkew > MaxClockSkew:
		return nil, fmt.Errorf("invalid clock_skew '%s': use a duration above 0 and at most %s", v.clockSkew, MaxClockSkew)
	}

	if len(cfg.Keys) == 0 {
		return nil, fmt.Errorf("no signing keys configured: add at least one key id with a secret of at least %d bytes", MinSecretLength)
	}
	ids := make([]string, 0, len(cfg.Keys))
	for id := range cfg.Keys {
		ids = append(ids, id)
	}
	sort.Strings(ids) // report the first bad key deterministically
	for _, id := range ids {
		if err := checkKey(id, cfg.Keys[id]); err != nil {
			return nil, err
		}
		v.keys[id] = newVerifierKey(id, cfg.Keys[id])
	}

	decoySecret := make([]byte, MinSecretLength)
	rand.Read(decoySecret) // crypto/rand.Read crashes the program rather than return an error (Go 1.24 and later)
	v.decoy = newVerifierKey("", decoySecret)
	return v, nil
}

// newVerifierKey copies secret into the constructor of a pool of HMAC
// states.
func newVerifierKey(id string, secret []byte) *verifierKey {
	secret = append([]byte(nil), secret...)
	return &verifierKey{
		id: id,
		pool: sync.Pool{New: func() any {
			return &macState{mac: hmac.New(sha256.New, secret)}
		}},
	}
}

// checkKey validates a key id and the length of its secret.
func checkKey(id string, secret []byte) error {
	if !policy.ValidKeyID(id) {
		return fmt.Errorf("invalid signing key id '%s': use 1 to %d characters of a-z, 0-9 and '-'", id, policy.MaxKeyIDLength)
	}
	if len(secret) < MinSecretLength {
		return fmt.Errorf("secret of signing key '%s' is %d bytes: use at least %d random bytes", id, len(secret), MinSecretLength)
	}
	return nil
}

// MaxTTL returns the longest accepted lifetime, after defaults.
func (v *Verifier) MaxTTL() time.Duration { return v.maxTTL }

// ClockSkew returns the tolerated clock difference, after defaults.
func (v *Verifier) ClockSkew() time.Duration { return v.clockSkew }

// Verify checks a request for a signed URL at time now. method, scheme
// ("http" or "https"), host (the Host header, with any port) and the raw
// path and raw query are taken as the client sent them.
//
// The checks run in this order, and the reason of the first failure is
// returned:
//   - a malformed escape, a raw space or control character in the path or
//     query: ReasonURLEscapeMalformed; a ';' in the query:
//     ReasonURLQuerySemicolon (whichever comes first in the URL);
//   - a repeated control parameter: ReasonURLParameterDuplicated;
//   - a missing control parameter: policy.ReasonURLSignatureMissing;
//   - an expiry that is not 10 digits: ReasonURLExpiresMalformed;
//   - an expiry more than ClockSkew in the past: policy.ReasonURLExpired;
//   - an expiry more than MaxTTL plus ClockSkew in the future:
//     policy.ReasonURLTTLTooLong;
//   - an unknown key id: policy.ReasonURLKeyUnknown;
//   - a signature that is not 43 characters of base64url, or a wrong one:
//     policy.ReasonURLSignatureInvalid.
func (v *Verifier) Verify(now time.Time, method, scheme, host, rawPath, rawQuery string) Result {
	if f := checkPath(rawPath); f.reason != policy.ReasonNone {
		return Result{Reason: f.reason}
	}
	var paramBuf [stackParams]param
	q, f := parseQuery(rawQuery, paramBuf[:])
	switch {
	case f.reason != policy.ReasonNone:
		return Result{Reason: f.reason}
	case q.duplicated:
		return Result{Reason: ReasonURLParameterDuplicated}
	case q.keyID < 0 || q.expires < 0 || q.signature < 0:
		return Result{Reason: policy.ReasonURLSignatureMissing}
	}

	var res Result
	key, keyID := v.lookupKey(q.params[q.keyID].value(rawQuery))
	if key != nil {
		res.KeyID, res.KeyKnown = key.id, true
	} else if policy.ValidKeyID(keyID) {
		res.KeyID = keyID
	}

	expires, ok := parseExpires(q.params[q.expires].value(rawQuery))
	if !ok {
		res.Reason = ReasonURLExpiresMalformed
		return res
	}
	res.Expires = time.Unix(expires, 0).UTC()
	if now.After(res.Expires.Add(v.clockSkew)) {
		res.Reason = policy.ReasonURLExpired
		return res
	}
	if res.Expires.Sub(now) > v.maxTTL+v.clockSkew {
		res.Reason = policy.ReasonURLTTLTooLong
		return res
	}

	// The MAC is computed even when the outcome is already known, with the
	// decoy key for an unknown key id. So timing reveals neither which key
	// ids exist nor which of these last checks failed.
	var sig [sha256.Size]byte
	sigOK := decodeSignature(&sig, q.params[q.signature].value(rawQuery))
	macKey := key
	if macKey == nil {
		macKey = v.decoy
	}
	macOK := macKey.verify(&sig, method, scheme, host, rawPath, rawQuery, &q)
	switch {
	case key == nil:
		res.Reason = policy.ReasonURLKeyUnknown
		return res
	case !sigOK || !macOK:
		res.Reason = policy.ReasonURLSignatureInvalid
		return res
	}

	res.Query = stripControlParams(rawQuery, [3]int{
		q.params[q.keyID].start, q.params[q.expires].start, q.params[q.signature].start,
	})
	return res
}

// lookupKey finds the key named by the raw X-Awra-Key-Id value. It also
// returns the decoded id, which is a new string only when the key is
// unknown and the raw value contained a percent-escape.
func (v *Verifier) lookupKey(raw string) (*verifierKey, string) {
	if strings.IndexByte(raw, '%') < 0 {
		return v.keys[raw], raw
	}
	if len(raw) > 3*policy.MaxKeyIDLength {
		return nil, ""
	}
	var buf [3 * policy.MaxKeyIDLength]byte
	id := appendDecoded(buf[:0], raw)
	if key := v.keys[string(id)]; key != nil {
		return key, key.id
	}
	return nil, string(id)
}

// verify computes the HMAC of the request's canonical string and compares
// it with sig in constant time.
func (k *verifierKey) verify(sig *[sha256.Size]byte, method, scheme, host, rawPath, rawQuery string, q *query) bool {
	st := k.pool.Get().(*macState)
	st.canonical, st.scratch = appendCanonical(st.canonical[:0], st.scratch, method, scheme, host, rawPath, rawQuery, q)

	st.mac.Reset()
	st.mac.Write(st.canonical)
	sum := st.mac.Sum(st.sum[:0])
	ok := subtle.ConstantTimeCompare(sum, sig[:]) == 1

	if cap(st.canonical) > maxPooledBuffer || cap(st.scratch) > maxPooledBuffer {
		st.canonical, st.scratch = nil, nil
	}
	k.pool.Put(st)
	return ok
}

// parseExpires reads exactly 10 ASCII digits without a leading zero. A
// leading zero would be a time before September 2001, which no link minted
// now carries, and rejecting it keeps one spelling per expiry.
func parseExpires(s string) (int64, bool) {
	if len(s) != expiresLength || s[0] == '0' {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// signatureEncoding rejects padding and non-zero trailing bits, so each
// signature has exactly one accepted spelling.
var signatureEncoding = base64.RawURLEncoding.Strict()

// decodeSignature decodes the raw X-Awra-Signature value, percent-escapes
// first, into sig. It reports false unless the value is exactly 43
// characters of base64url without padding.
func decodeSignature(sig *[sha256.Size]byte, raw string) bool {
	if len(raw) > 3*signatureLength {
		return false
	}
	var buf [3 * signatureLength]byte
	src := appendDecoded(buf[:0], raw)
	if len(src) != signatureLength {
		return false
	}
	n, err := signatureEncoding.Decode(sig[:], src)
	return err == nil && n == sha256.Size
}

// stripControlParams returns raw without the '&'-separated pieces that
// start at the offsets in skip. The other pieces, empty ones included,
// keep their bytes and order. When the kept pieces are contiguous in raw,
// as they are when the control parameters come first or last, the result
// is a substring of raw and nothing is allocated.
func stripControlParams(raw string, skip [3]int) string {
	first, last := -1, -1
	contiguous := true
	for start := 0; start <= len(raw); {
		end := strings.IndexByte(raw[start:], '&')
		if end < 0 {
			end = len(raw)
		} else {
			end += start
		}
		if start != skip[0] && start != skip[1] && start != skip[2] {
			if first < 0 {
				first = start
			} else if start != last+1 {
				contiguous = false
			}
			last = end
		}
		start = end + 1
	}
	if first < 0 {
		return ""
	}
	if contiguous {
		return raw[first:last]
	}

	var b strings.Builder
	b.Grow(len(raw))
	sep := false
	for start := 0; start <= len(raw); {
		end := strings.IndexByte(raw[start:], '&')
		if end < 0 {
			end = len(raw)
		} else {
			end += start
		}
		if start != skip[0] && start != skip[1] && start != skip[2] {
			if sep {
				b.WriteByte('&')
			}
			b.WriteString(raw[start:end])
			sep = true
		}
		start = end + 1
	}
	return b.String()
}
