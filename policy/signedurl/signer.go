package signedurl

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/awra/awragate/policy"
)

// Signer mints signed URLs with one key. It is safe for concurrent use.
type Signer struct {
	keyID  string
	secret []byte
}

// NewSigner returns a Signer for keyID, which must be 1 to 64 characters
// of a-z, 0-9 and '-', and secret, which must be at least MinSecretLength
// bytes. The secret is copied. Errors never contain the secret.
func NewSigner(keyID string, secret []byte) (*Signer, error) {
	if err := checkKey(keyID, secret); err != nil {
		return nil, err
	}
	return &Signer{keyID: keyID, secret: append([]byte(nil), secret...)}, nil
}

// KeyID returns the key id the Signer puts in X-Awra-Key-Id.
func (s *Signer) KeyID() string { return s.keyID }

// Sign returns rawQuery with X-Awra-Key-Id, X-Awra-Expires and
// X-Awra-Signature appended, in that order, for a request of method to
// scheme://host + rawPath. The existing parameters keep their bytes.
//
// Sign rejects input that a client would not send as written, so that a
// link it mints verifies as long as it is used before its expiry. Sign
// has neither the current time nor the verifier's MaxTTL, so callers
// check the lifetime. It returns an error for:
//   - a method that is not an HTTP token, or a scheme other than http or https;
//   - an empty host, or one with a character not allowed in an RFC 3986 host;
//   - a path or query with a character outside RFC 3986 (escape it as %XX)
//     or a malformed escape;
//   - a ';' in the query, or a query that already has a control parameter;
//   - an expiry outside the 10-digit range 2001-09-09 to 2286-11-20.
func (s *Signer) Sign(method, scheme, host, rawPath, rawQuery string, expires time.Time) (string, error) {
	if err := checkSignInput(method, scheme, host, rawPath, rawQuery); err != nil {
		return "", err
	}
	unix := expires.Unix()
	if unix < 1_000_000_000 || unix > 9_999_999_999 {
		return "", fmt.Errorf("invalid expiry '%s': X-Awra-Expires must be 10 digits, so use a time between 2001-09-09 and 2286-11-20", expires.UTC().Format(time.RFC3339))
	}

	var b strings.Builder
	b.Grow(len(rawQuery) + 128)
	b.WriteString(rawQuery)
	if rawQuery != "" {
		b.WriteByte('&')
	}
	b.WriteString(ParamKeyID + "=")
	b.WriteString(s.keyID)
	b.WriteString("&" + ParamExpires + "=")
	b.WriteString(strconv.FormatInt(unix, 10))
	unsigned := b.String()

	canonical, err := Canonical(method, scheme, host, rawPath, unsigned)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(canonical))
	return unsigned + "&" + ParamSignature + "=" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// SignURL signs an absolute http or https URL for method and returns it
// with the control parameters appended to its query. The URL is split by
// hand, not with net/url, so its path and query keep their exact bytes; a
// fragment is kept. Userinfo ("user@host") is rejected because browsers
// strip it. For a *url.URL, pass u.String().
func (s *Signer) SignURL(method, rawURL string, expires time.Time) (string, error) {
	scheme, host, rawPath, rawQuery, fragment, hasFragment, err := splitURL(rawURL)
	if err != nil {
		return "", err
	}
	signed, err := s.Sign(method, scheme, host, rawPath, rawQuery, expires)
	if err != nil {
		return "", err
	}

	out := scheme + "://" + host + rawPath + "?" + signed
	if hasFragment {
		out += "#" + fragment
	}
	return out, nil
}

// SignURL signs rawURL for method with one key. It is NewSigner followed
// by Signer.SignURL.
func SignURL(method, rawURL, keyID string, secret []byte, expires time.Time) (string, error) {
	s, err := NewSigner(keyID, secret)
	if err != nil {
		return "", err
	}
	return s.SignURL(method, rawURL, expires)
}

// Canonical returns the canonical string of a request: the exact bytes
// that are signed. rawQuery should already hold X-Awra-Key-Id and
// X-Awra-Expires; any X-Awra-Signature is left out. It returns an error for
// a malformed escape, a raw space or control character, or a ';' in the
// query. It does not check the control parameters, the method or the host,
// because Sign and Verify do.
func Canonical(method, scheme, host, rawPath, rawQuery string) (string, error) {
	if f := checkPath(rawPath); f.reason != policy.ReasonNone {
		return "", faultError("path", rawPath, f)
	}
	q, f := parseQuery(rawQuery, nil)
	if f.reason != policy.ReasonNone {
		return "", faultError("query", rawQuery, f)
	}
	canonical, _ := appendCanonical(nil, nil, method, scheme, host, rawPath, rawQuery, &q)
	return string(canonical), nil
}

// faultError turns a parse fault into an error naming the part and the
// offending byte.
func faultError(part, value string, f fault) error {
	c := value[f.offset]
	switch f.reason {
	case ReasonURLQuerySemicolon:
		return fmt.Errorf("invalid query '%s': ';' at byte %d, escape it as %%3B", value, f.offset)
	case ReasonURLEscapeMalformed:
		if c == '%' {
			return fmt.Errorf("invalid %s '%s': malformed percent-escape at byte %d, write '%%' itself as %%25", part, value, f.offset)
		}
		return fmt.Errorf("invalid %s: byte 0x%02X at byte %d must be percent-encoded as %%%02X", part, c, f.offset, c)
	}
	return fmt.Errorf("invalid %s '%s': %s", part, value, f.reason)
}

// checkSignInput validates what Sign signs. Beyond what Verify rejects, it
// requires RFC 3986 syntax, because a client escapes other characters
// before sending them and the link would no longer verify.
func checkSignInput(method, scheme, host, rawPath, rawQuery string) error {
	if !isToken(method) {
		return fmt.Errorf("invalid method '%s': use an HTTP method such as GET", method)
	}
	if !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "http") {
		return fmt.Errorf("invalid scheme '%s': use http or https", scheme)
	}
	if host == "" {
		return errors.New("missing host: give the host the link is for, such as files.example.com")
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !isUnreserved(c) && !isSubDelim(c) && c != ':' && c != '[' && c != ']' && c != '%' {
			return fmt.Errorf("invalid host '%s': character %q at byte %d is not allowed in a host", host, c, i)
		}
	}
	if rawPath != "" && rawPath[0] != '/' {
		return fmt.Errorf("invalid path '%s': start it with '/'", rawPath)
	}
	if err := checkURIChars("path", rawPath, false); err != nil {
		return err
	}
	if err := checkURIChars("query", rawQuery, true); err != nil {
		return err
	}

	q, f := parseQuery(rawQuery, nil)
	if f.reason != policy.ReasonNone {
		return faultError("query", rawQuery, f)
	}
	for _, i := range [...]int{q.keyID, q.expires, q.signature} {
		if i >= 0 {
			return fmt.Errorf("invalid query '%s': it already has '%s', so remove the X-Awra-* parameters before signing", rawQuery, q.params[i].name(rawQuery))
		}
	}
	if q.duplicated {
		return fmt.Errorf("invalid query '%s': it already has X-Awra-* parameters, so remove them before signing", rawQuery)
	}
	return nil
}

// checkURIChars rejects a byte outside RFC 3986 pchar, '/' and, in a query,
// '?'. Escapes are checked by checkPath and parseQuery.
func checkURIChars(part, s string, isQuery bool) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || isSubDelim(c) || c == ':' || c == '@' || c == '/' || c == '%' || isQuery && c == '?' {
			continue
		}
		if mustEscape(c) {
			return fmt.Errorf("invalid %s: byte 0x%02X at byte %d must be percent-encoded as %%%02X", part, c, i, c)
		}
		return fmt.Errorf("invalid %s '%s': byte 0x%02X at byte %d must be percent-encoded as %%%02X", part, s, c, i, c)
	}
	return nil
}

func isSubDelim(c byte) bool {
	return strings.IndexByte("!$&'()*+,;=", c) >= 0
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2), the
// syntax of a method.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') &&
			strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}

// splitURL splits an absolute URL into scheme, host (with port), path,
// query and fragment without decoding anything.
func splitURL(rawURL string) (scheme, host, rawPath, rawQuery, fragment string, hasFragment bool, err error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok || scheme == "" {
		return "", "", "", "", "", false, fmt.Errorf("invalid URL '%s': use an absolute URL such as https://files.example.com/report.pdf", rawURL)
	}
	rest, fragment, hasFragment = strings.Cut(rest, "#")
	rest, rawQuery, _ = strings.Cut(rest, "?")
	host, rawPath = rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, rawPath = rest[:i], rest[i:]
	}
	if strings.IndexByte(host, '@') >= 0 {
		return "", "", "", "", "", false, errors.New("invalid URL: remove the userinfo before '@' from the host")
	}
	return scheme, host, rawPath, rawQuery, fragment, hasFragment, nil
}
