package signedurl

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

// newTestSecret returns a random 43-byte secret, made at test time.
func newTestSecret(t testing.TB) []byte {
	t.Helper()
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		t.Fatal(err)
	}
	return []byte(base64.RawURLEncoding.EncodeToString(raw[:]))
}

// testKeys holds two active keys, as during a rotation, and one key the
// verifier does not know.
type testKeys struct {
	old, current, other []byte
	verifier            *Verifier
}

func newTestKeys(t testing.TB) testKeys {
	t.Helper()
	k := testKeys{old: newTestSecret(t), current: newTestSecret(t), other: newTestSecret(t)}
	v, err := NewVerifier(Config{Keys: map[string][]byte{"k2025": k.old, "k2026": k.current}})
	if err != nil {
		t.Fatal(err)
	}
	k.verifier = v
	return k
}

// testRequest is a request to verify.
type testRequest struct {
	method, scheme, host, path, query string
}

// testNow is the verification time of the tests; links expire an hour later.
var testNow = time.Unix(1767225600, 0)

func mustSign(t testing.TB, keyID string, secret []byte, r testRequest, expires time.Time) testRequest {
	t.Helper()
	s, err := NewSigner(keyID, secret)
	if err != nil {
		t.Fatal(err)
	}
	query, err := s.Sign(r.method, r.scheme, r.host, r.path, r.query, expires)
	if err != nil {
		t.Fatalf("Sign(%+v) error: %v", r, err)
	}
	r.query = query
	return r
}

// replaceParam replaces the whole first piece of query that starts with
// prefix.
func replaceParam(query, prefix, piece string) string {
	parts := strings.Split(query, "&")
	for i, p := range parts {
		if strings.HasPrefix(p, prefix) {
			parts[i] = piece
			break
		}
	}
	return strings.Join(parts, "&")
}

func removeParam(query, prefix string) string {
	var kept []string
	for _, p := range strings.Split(query, "&") {
		if !strings.HasPrefix(p, prefix) {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}

func paramValue(query, name string) string {
	for _, p := range strings.Split(query, "&") {
		if v, ok := strings.CutPrefix(p, name+"="); ok {
			return v
		}
	}
	return ""
}

func TestVerify(t *testing.T) {
	k := newTestKeys(t)
	base := testRequest{"GET", "https", "files.example", "/v1/report%20q1.pdf", "a=1&b=x+y"}
	expires := testNow.Add(time.Hour)
	signed := mustSign(t, "k2026", k.current, base, expires)
	sig := paramValue(signed.query, ParamSignature)
	exp := strconv.FormatInt(expires.Unix(), 10)
	maxLife := DefaultMaxTTL + DefaultClockSkew

	with := func(edit func(r *testRequest)) testRequest {
		r := signed
		edit(&r)
		return r
	}
	withQuery := func(query string) testRequest { return with(func(r *testRequest) { r.query = query }) }
	withSignature := func(s string) testRequest {
		return withQuery(replaceParam(signed.query, ParamSignature+"=", ParamSignature+"="+s))
	}
	withExpires := func(e string) testRequest {
		return withQuery(replaceParam(signed.query, ParamExpires+"=", ParamExpires+"="+e))
	}
	flipped := []byte(sig)
	flipped[10] = 'A'
	if sig[10] == 'A' {
		flipped[10] = 'B'
	}
	rawSig, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		req  testRequest
		now  time.Time
		want policy.Reason
	}{
		{"valid", signed, testNow, ""},
		{"valid with previous key", mustSign(t, "k2025", k.old, base, expires), testNow, ""},
		{"valid with control parameters first", withQuery(
			"X-Awra-Signature=" + sig + "&X-Awra-Expires=" + exp + "&X-Awra-Key-Id=k2026&a=1&b=x+y"), testNow, ""},
		{"valid with parameters reordered", withQuery(
			"b=x+y&X-Awra-Key-Id=k2026&X-Awra-Signature=" + sig + "&a=1&X-Awra-Expires=" + exp), testNow, ""},
		{"valid with equivalent escapes", with(func(r *testRequest) {
			r.path = "/v1/r%65port%20q1.pdf"
			r.query = strings.Replace(r.query, "a=1", "%61=%31", 1)
		}), testNow, ""},
		{"valid with host case and default port", with(func(r *testRequest) { r.host = "FILES.example:443" }), testNow, ""},
		{"valid with lower-case method", with(func(r *testRequest) { r.method = "get" }), testNow, ""},
		{"valid with escaped control name", withQuery(strings.Replace(signed.query, "X-Awra-Expires=", "X-Awra-Expire%73=", 1)), testNow, ""},
		{"valid with escaped signature", withSignature(strings.Replace(sig, sig[:1], "%"+strings.ToUpper(hex.EncodeToString([]byte(sig[:1]))), 1)), testNow, ""},
		{"valid up to skew after expiry", signed, expires.Add(DefaultClockSkew), ""},
		{"valid one second before skew ends", signed, expires.Add(DefaultClockSkew - time.Second), ""},
		{"valid with lifetime of max TTL plus skew", mustSign(t, "k2026", k.current, base, testNow.Add(maxLife)), testNow, ""},

		{"key id missing", withQuery(removeParam(signed.query, ParamKeyID+"=")), testNow, policy.ReasonURLSignatureMissing},
		{"expiry missing", withQuery(removeParam(signed.query, ParamExpires+"=")), testNow, policy.ReasonURLSignatureMissing},
		{"signature missing", withQuery(removeParam(signed.query, ParamSignature+"=")), testNow, policy.ReasonURLSignatureMissing},
		{"no query", withQuery(""), testNow, policy.ReasonURLSignatureMissing},
		{"lower-case signature name", withQuery(strings.Replace(signed.query, ParamSignature, "x-awra-signature", 1)), testNow, policy.ReasonURLSignatureMissing},

		{"key id repeated", withQuery(signed.query + "&X-Awra-Key-Id=k2026"), testNow, ReasonURLParameterDuplicated},
		{"expiry repeated", withQuery(signed.query + "&X-Awra-Expires=" + exp), testNow, ReasonURLParameterDuplicated},
		{"signature repeated", withQuery(signed.query + "&X-Awra-Signature=" + sig), testNow, ReasonURLParameterDuplicated},
		{"expiry repeated with escaped name", withQuery(signed.query + "&X-Awra-Expire%73=9999999999"), testNow, ReasonURLParameterDuplicated},
		{"key id repeated without value", withQuery(signed.query + "&X-Awra-Key-Id"), testNow, ReasonURLParameterDuplicated},

		{"semicolon between parameters", withQuery("a=1;b=x+y&" + removeParam(removeParam(signed.query, "a="), "b=")), testNow, ReasonURLQuerySemicolon},
		{"semicolon hiding a parameter", withQuery(signed.query + ";admin=1"), testNow, ReasonURLQuerySemicolon},
		{"malformed query escape", withQuery(signed.query + "&c=%zz"), testNow, ReasonURLEscapeMalformed},
		{"truncated query escape", withQuery(signed.query + "&c=%4"), testNow, ReasonURLEscapeMalformed},
		{"control character in query", withQuery(signed.query + "&c=\x00"), testNow, ReasonURLEscapeMalformed},
		{"raw # hiding the signed parameters", withQuery("u=x#y&" + signed.query), testNow, ReasonURLEscapeMalformed},
		{"raw # in path", with(func(r *testRequest) { r.path = "/v1/report#x" }), testNow, ReasonURLEscapeMalformed},
		{"malformed path escape", with(func(r *testRequest) { r.path = "/v1/report%2" }), testNow, ReasonURLEscapeMalformed},
		{"space in path", with(func(r *testRequest) { r.path = "/v1/report q1.pdf" }), testNow, ReasonURLEscapeMalformed},
		{"newline in path", with(func(r *testRequest) { r.path = "/v1/\nreport" }), testNow, ReasonURLEscapeMalformed},

		{"expiry in milliseconds", withExpires(exp + "000"), testNow, ReasonURLExpiresMalformed},
		{"expiry with leading zero", withExpires("0" + exp[1:]), testNow, ReasonURLExpiresMalformed},
		{"expiry with plus sign", withExpires("+" + exp[1:]), testNow, ReasonURLExpiresMalformed},
		{"expiry with minus sign", withExpires("-" + exp[1:]), testNow, ReasonURLExpiresMalformed},
		{"expiry with decimal point", withExpires(exp + ".0"), testNow, ReasonURLExpiresMalformed},
		{"expiry with decimal point inside", withExpires(exp[:9] + "."), testNow, ReasonURLExpiresMalformed},
		{"expiry of nine digits", withExpires(exp[:9]), testNow, ReasonURLExpiresMalformed},
		{"expiry empty", withExpires(""), testNow, ReasonURLExpiresMalformed},
		{"expiry percent-encoded", withExpires("%3" + exp[:1] + exp[1:]), testNow, ReasonURLExpiresMalformed},
		{"expiry ending in plus", withExpires(exp[:9] + "+"), testNow, ReasonURLExpiresMalformed},

		{"expired one second past skew", signed, expires.Add(DefaultClockSkew + time.Second), policy.ReasonURLExpired},
		{"expired long ago", signed, expires.Add(30 * 24 * time.Hour), policy.ReasonURLExpired},
		{"lifetime one second over max TTL plus skew", mustSign(t, "k2026", k.current, base, testNow.Add(maxLife+time.Second)), testNow, policy.ReasonURLTTLTooLong},
		{"lifetime of years", withExpires("9999999999"), testNow, policy.ReasonURLTTLTooLong},

		{"unknown key id", mustSign(t, "k2024", k.other, base, expires), testNow, policy.ReasonURLKeyUnknown},
		{"key id in other case", withQuery(strings.Replace(signed.query, "=k2026", "=K2026", 1)), testNow, policy.ReasonURLKeyUnknown},
		{"empty key id", withQuery(strings.Replace(signed.query, "=k2026", "=", 1)), testNow, policy.ReasonURLKeyUnknown},

		{"signature truncated", withSignature(sig[:42]), testNow, policy.ReasonURLSignatureInvalid},
		{"signature padded", withSignature(sig + "="), testNow, policy.ReasonURLSignatureInvalid},
		{"signature padded and escaped", withSignature(sig + "%3D"), testNow, policy.ReasonURLSignatureInvalid},
		{"signature in hex", withSignature(hex.EncodeToString(rawSig)), testNow, policy.ReasonURLSignatureInvalid},
		{"signature in standard base64", withSignature(base64.StdEncoding.EncodeToString(rawSig)), testNow, policy.ReasonURLSignatureInvalid},
		{"signature upper-cased", withSignature(strings.ToUpper(sig)), testNow, policy.ReasonURLSignatureInvalid},
		{"signature with extra character", withSignature(sig + "A"), testNow, policy.ReasonURLSignatureInvalid},
		{"signature empty", withSignature(""), testNow, policy.ReasonURLSignatureInvalid},
		{"signature with one character changed", withSignature(string(flipped)), testNow, policy.ReasonURLSignatureInvalid},
		{"signature with trailing bits set", withSignature(sig[:42] + string(nonCanonicalLast(sig[42]))), testNow, policy.ReasonURLSignatureInvalid},
		{"signature by another key", withSignature(paramValue(mustSign(t, "k2026", k.other, base, expires).query, ParamSignature)), testNow, policy.ReasonURLSignatureInvalid},
		{"signature of previous key under current id", withQuery(strings.Replace(mustSign(t, "k2025", k.old, base, expires).query, "=k2025", "=k2026", 1)), testNow, policy.ReasonURLSignatureInvalid},
		{"other method", with(func(r *testRequest) { r.method = "DELETE" }), testNow, policy.ReasonURLSignatureInvalid},
		{"other host", with(func(r *testRequest) { r.host = "other.example" }), testNow, policy.ReasonURLSignatureInvalid},
		{"other port", with(func(r *testRequest) { r.host = "files.example:8443" }), testNow, policy.ReasonURLSignatureInvalid},
		{"default port of other scheme", with(func(r *testRequest) { r.host = "files.example:80" }), testNow, policy.ReasonURLSignatureInvalid},
		{"other path", with(func(r *testRequest) { r.path = "/v1/report%20q2.pdf" }), testNow, policy.ReasonURLSignatureInvalid},
		{"path with decoded space", with(func(r *testRequest) { r.path = "/v1/report+q1.pdf" }), testNow, policy.ReasonURLSignatureInvalid},
		{"path with escaped slash", with(func(r *testRequest) { r.path = "/v1%2Freport%20q1.pdf" }), testNow, policy.ReasonURLSignatureInvalid},
		{"path with trailing slash", with(func(r *testRequest) { r.path += "/" }), testNow, policy.ReasonURLSignatureInvalid},
		{"query value changed", withQuery(strings.Replace(signed.query, "a=1", "a=2", 1)), testNow, policy.ReasonURLSignatureInvalid},
		{"plus read as space", withQuery(strings.Replace(signed.query, "x+y", "x%20y", 1)), testNow, policy.ReasonURLSignatureInvalid},
		{"parameter added", withQuery(signed.query + "&admin=1"), testNow, policy.ReasonURLSignatureInvalid},
		{"parameter without value added", withQuery(signed.query + "&admin"), testNow, policy.ReasonURLSignatureInvalid},
		{"parameter removed", withQuery(removeParam(signed.query, "a=")), testNow, policy.ReasonURLSignatureInvalid},
		{"parameter repeated", withQuery("a=1&" + signed.query), testNow, policy.ReasonURLSignatureInvalid},
		{"lower-case control name added", withQuery(signed.query + "&x-awra-expires=9999999999"), testNow, policy.ReasonURLSignatureInvalid},
		{"expiry changed", withExpires(strconv.FormatInt(expires.Unix()+60, 10)), testNow, policy.ReasonURLSignatureInvalid},
		{"key id changed to other known key", withQuery(strings.Replace(signed.query, "=k2026", "=k2025", 1)), testNow, policy.ReasonURLSignatureInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req
			got := k.verifier.Verify(tt.now, r.method, r.scheme, r.host, r.path, r.query)
			if got.Reason != tt.want {
				t.Errorf("Verify(%s, %q, %q, %q, %q, %q).Reason = %q, want %q",
					tt.now.UTC().Format(time.RFC3339), r.method, r.scheme, r.host, r.path, r.query, got.Reason, tt.want)
			}
			if tt.want == "" && got.Query != base.query && got.Query != "b=x+y&a=1" && got.Query != "%61=%31&b=x+y" {
				t.Errorf("Verify(%q).Query = %q, want the request's query without control parameters", r.query, got.Query)
			}
			if tt.want != "" && got.Query != "" {
				t.Errorf("Verify(%q).Query = %q on denial, want empty", r.query, got.Query)
			}
			if status := got.Reason.Status(); tt.want != "" && status != 403 {
				t.Errorf("%q.Status() = %d, want 403", got.Reason, status)
			}
		})
	}
}

// nonCanonicalLast returns a base64url character that decodes to the same
// top bits as c but sets one of the two bits that a 43-character encoding
// leaves unused.
func nonCanonicalLast(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return alphabet[strings.IndexByte(alphabet, c)|1]
}

func TestVerifyResultFields(t *testing.T) {
	k := newTestKeys(t)
	base := testRequest{"GET", "https", "files.example", "/f", "a=1"}
	expires := testNow.Add(time.Hour)

	tests := []struct {
		name         string
		query        string
		wantKeyID    string
		wantKnown    bool
		wantExpires  time.Time
		wantForwards string
	}{
		{"allowed", mustSign(t, "k2026", k.current, base, expires).query, "k2026", true, expires.UTC(), "a=1"},
		{"escaped known key id", strings.Replace(mustSign(t, "k2026", k.current, base, expires).query, "=k2026", "=k%32026", 1),
			"k2026", true, expires.UTC(), "a=1"},
		{"unknown well-formed key id", mustSign(t, "k1999", k.other, base, expires).query, "k1999", false, expires.UTC(), ""},
		{"unknown escaped key id", strings.Replace(mustSign(t, "k1999", k.other, base, expires).query, "=k1999", "=k%31999", 1),
			"k1999", false, expires.UTC(), ""},
		{"unknown malformed key id", strings.Replace(mustSign(t, "k1999", k.other, base, expires).query, "=k1999", "=%3Cscript%3E", 1),
			"", false, expires.UTC(), ""},
		{"expired known key", mustSign(t, "k2025", k.old, base, testNow.Add(-time.Hour)).query, "k2025", true, testNow.Add(-time.Hour).UTC(), ""},
		{"malformed expiry", "a=1&X-Awra-Key-Id=k2026&X-Awra-Expires=01&X-Awra-Signature=x", "k2026", true, time.Time{}, ""},
		{"missing signature", "a=1&X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600", "", false, time.Time{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := k.verifier.Verify(testNow, base.method, base.scheme, base.host, base.path, tt.query)
			if got.KeyID != tt.wantKeyID || got.KeyKnown != tt.wantKnown {
				t.Errorf("Verify(%q) key = %q, known %v, want %q, known %v", tt.query, got.KeyID, got.KeyKnown, tt.wantKeyID, tt.wantKnown)
			}
			if !got.Expires.Equal(tt.wantExpires) {
				t.Errorf("Verify(%q).Expires = %v, want %v", tt.query, got.Expires, tt.wantExpires)
			}
			if got.Query != tt.wantForwards {
				t.Errorf("Verify(%q).Query = %q, want %q", tt.query, got.Query, tt.wantForwards)
			}
		})
	}
}

func TestVerifyCustomLimits(t *testing.T) {
	secret := newTestSecret(t)
	v, err := NewVerifier(Config{Keys: map[string][]byte{"k": secret}, MaxTTL: time.Hour, ClockSkew: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if v.MaxTTL() != time.Hour || v.ClockSkew() != time.Second {
		t.Fatalf("MaxTTL(), ClockSkew() = %s, %s, want 1h0m0s, 1s", v.MaxTTL(), v.ClockSkew())
	}
	base := testRequest{"GET", "https", "h", "/", ""}

	tests := []struct {
		name    string
		expires time.Time
		now     time.Time
		want    policy.Reason
	}{
		{"lifetime of max TTL plus skew", testNow.Add(time.Hour + time.Second), testNow, ""},
		{"lifetime one second over max TTL plus skew", testNow.Add(time.Hour + 2*time.Second), testNow, policy.ReasonURLTTLTooLong},
		{"at skew after expiry", testNow, testNow.Add(time.Second), ""},
		{"one second past skew", testNow, testNow.Add(2 * time.Second), policy.ReasonURLExpired},
		{"within skew by nanoseconds", testNow, testNow.Add(time.Second + time.Nanosecond), policy.ReasonURLExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustSign(t, "k", secret, base, tt.expires)
			got := v.Verify(tt.now, r.method, r.scheme, r.host, r.path, r.query)
			if got.Reason != tt.want {
				t.Errorf("Verify(now %s, expires %s).Reason = %q, want %q", tt.now.UTC().Format(time.RFC3339Nano), tt.expires.UTC().Format(time.RFC3339), got.Reason, tt.want)
			}
		})
	}
}

func TestNewVerifierRejects(t *testing.T) {
	secret := newTestSecret(t)
	short := secret[:31]
	tests := []struct {
		name        string
		cfg         Config
		wantInError string
	}{
		{"no keys", Config{}, "no signing keys configured"},
		{"short secret", Config{Keys: map[string][]byte{"k2026": short}}, "secret of signing key 'k2026' is 31 bytes: use at least 32"},
		{"empty secret", Config{Keys: map[string][]byte{"k2026": nil}}, "is 0 bytes"},
		{"invalid key id", Config{Keys: map[string][]byte{"K 2026": secret}}, "invalid signing key id 'K 2026'"},
		{"empty key id", Config{Keys: map[string][]byte{"": secret}}, "invalid signing key id ''"},
		{"max TTL over 7 days", Config{Keys: map[string][]byte{"k": secret}, MaxTTL: MaxTTLLimit + time.Second}, "invalid max_ttl '168h0m1s'"},
		{"negative max TTL", Config{Keys: map[string][]byte{"k": secret}, MaxTTL: -time.Hour}, "invalid max_ttl '-1h0m0s'"},
		{"clock skew too large", Config{Keys: map[string][]byte{"k": secret}, ClockSkew: time.Hour}, "invalid clock_skew '1h0m0s'"},
		{"negative clock skew", Config{Keys: map[string][]byte{"k": secret}, ClockSkew: -time.Second}, "invalid clock_skew '-1s'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg)
			if err == nil {
				t.Fatalf("NewVerifier(%s) = %v, want error", tt.name, v)
			}
			if !strings.Contains(err.Error(), tt.wantInError) {
				t.Errorf("NewVerifier(%s) error = %q, want it to contain %q", tt.name, err, tt.wantInError)
			}
			if strings.Contains(err.Error(), string(short)) {
				t.Errorf("NewVerifier(%s) error contains the secret", tt.name)
			}
		})
	}
}

func TestNewVerifierCopiesSecrets(t *testing.T) {
	secret := newTestSecret(t)
	v, err := NewVerifier(Config{Keys: map[string][]byte{"k": secret}})
	if err != nil {
		t.Fatal(err)
	}
	r := mustSign(t, "k", secret, testRequest{"GET", "https", "h", "/", ""}, testNow.Add(time.Hour))
	secret[0] ^= 1
	if got := v.Verify(testNow, r.method, r.scheme, r.host, r.path, r.query); !got.Allowed() {
		t.Errorf("Verify after the caller changed its secret slice: reason %q, want allowed", got.Reason)
	}
}

func TestStatusAndTitle(t *testing.T) {
	for _, r := range []policy.Reason{
		ReasonURLParameterDuplicated, ReasonURLQuerySemicolon, ReasonURLEscapeMalformed, ReasonURLExpiresMalformed,
		policy.ReasonURLExpired, policy.ReasonURLTTLTooLong, policy.ReasonURLSignatureMissing,
		policy.ReasonURLSignatureInvalid, policy.ReasonURLKeyUnknown,
	} {
		t.Run(string(r), func(t *testing.T) {
			if got := r.Status(); got != 403 {
				t.Errorf("%q.Status() = %d, want 403", r, got)
			}
			if got := r.Title(); got == "" || got == "Request denied" {
				t.Errorf("%q.Title() = %q, want a specific title", r, got)
			}
		})
	}
}

func TestVerifyConcurrent(t *testing.T) {
	k := newTestKeys(t)
	base := testRequest{"GET", "https", "files.example", "/f", "a=1"}
	links := []testRequest{
		mustSign(t, "k2025", k.old, base, testNow.Add(time.Hour)),
		mustSign(t, "k2026", k.current, base, testNow.Add(time.Hour)),
	}
	bad := links[1]
	bad.path = "/g"

	done := make(chan string)
	for g := range 8 {
		go func() {
			for i := range 200 {
				r, want := links[(g+i)%2], policy.ReasonNone
				if i%3 == 0 {
					r, want = bad, policy.ReasonURLSignatureInvalid
				}
				if got := k.verifier.Verify(testNow, r.method, r.scheme, r.host, r.path, r.query).Reason; got != want {
					done <- "Verify(" + r.path + ") = " + string(got) + ", want " + string(want)
					return
				}
			}
			done <- ""
		}()
	}
	for range 8 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
