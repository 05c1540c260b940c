package awra

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/awra/awragate/policy"
)

// credential is the API key found in a request and where it was found.
type credential struct {
	token  string
	header string // canonical header name that carried it
}

// credentialProblem explains why no usable credential was found. The text
// is public.
type credentialProblem string

const (
	credOK          credentialProblem = ""
	credMissing     credentialProblem = "send the API key in the Authorization header after 'Bearer ', or in the X-API-Key header"
	credInQuery     credentialProblem = "API keys are accepted only in a header (Authorization: Bearer or X-API-Key), never in the URL; treat a key sent in a URL as leaked and rotate it"
	credDuplicated  credentialProblem = "the request carries more than one API key; send exactly one"
	credNotInScheme credentialProblem = "the Authorization header must use the Bearer scheme"
)

// queryKeyNames are query parameters that commonly carry API keys. A value
// in them, or any value that looks like an awra token, is refused: a key
// in a URL ends up in access logs, browser history and Referer headers.
var queryKeyNames = []string{"api_key", "apikey", "api-key", "x-api-key", "access_token", "token", "key"}

// queryCarriesKey reports whether a raw query seems to hold an API key. It
// looks at parameter names, at values, raw and percent-decoded, and for a
// token anywhere in the query, which catches one behind other text or a
// ';' as well.
func queryCarriesKey(rawQuery string) bool {
	if rawQuery == "" {
		return false
	}
	if hasToken(rawQuery) {
		return true
	}
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		name, value, _ := strings.Cut(pair, "=")
		for _, n := range queryKeyNames {
			if strings.EqualFold(name, n) && value != "" {
				return true
			}
		}
		if looksLikeToken(value) {
			return true
		}
	}
	return false
}

// containsToken reports whether s holds a well-formed awra token
// anywhere. A token cannot be followed by a token byte, so it ends a run
// of token bytes: each run that holds the prefix is checked once, from the
// end, which keeps the scan linear in len(s).
func containsToken(s string) bool {
	for {
		i := strings.Index(s, policy.TokenPrefix)
		if i < 0 {
			return false
		}
		end := i + len(policy.TokenPrefix)
		for end < len(s) && policy.IsTokenByte(s[end]) {
			end++
		}
		if endsWithToken(s[:end]) {
			return true
		}
		s = s[end:]
	}
}

// hasToken reports whether s contains a token as written or after one
// lenient percent-decoding, as a web framework would read it.
func hasToken(s string) bool {
	return containsToken(s) || strings.IndexByte(s, '%') >= 0 && containsToken(policy.UnescapeLeniently(s))
}

// endsWithToken reports whether run ends with "awra_<id>_<secret>". The
// secret follows the last '_', and the id, which holds no '_', the one
// before it.
func endsWithToken(run string) bool {
	last := strings.LastIndexByte(run, '_')
	if last < 0 {
		return false
	}
	idStart := strings.LastIndexByte(run[:last], '_') + 1
	tokenStart := idStart - len(policy.TokenPrefix)
	if tokenStart < 0 || run[tokenStart:idStart] != policy.TokenPrefix {
		return false
	}
	_, _, ok := policy.ParseToken(run[tokenStart:])
	return ok
}

// authorizationHoldsToken reports whether an Authorization value holds a
// token as written, percent-encoded, or in Basic credentials, where many
// frameworks accept an API key as the user name or the password.
func authorizationHoldsToken(v string) bool {
	if hasToken(v) {
		return true
	}
	scheme, creds, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	creds = strings.TrimSpace(creds)
	decoded, err := base64.StdEncoding.DecodeString(creds)
	if err != nil {
		decoded, err = base64.RawStdEncoding.DecodeString(creds)
	}
	return err == nil && containsToken(string(decoded))
}

// looksLikeToken reports whether a raw query value starts with the token
// prefix, before or after percent-decoding of its first bytes.
func looksLikeToken(v string) bool {
	if len(v) >= 5 && strings.EqualFold(v[:5], "awra_") {
		return true
	}
	if strings.IndexByte(v, '%') < 0 {
		return false
	}
	// Decode just enough of the value to compare the prefix.
	var buf [5]byte
	n := 0
	for i := 0; i < len(v) && n < len(buf); i++ {
		c := v[i]
		if c == '%' && i+2 < len(v) && isHexDigit(v[i+1]) && isHexDigit(v[i+2]) {
			c = hexValue(v[i+1])<<4 | hexValue(v[i+2])
			i += 2
		}
		buf[n] = c
		n++
	}
	return n == len(buf) && strings.EqualFold(string(buf[:]), "awra_")
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexValue(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// findCredential reads the API key from Authorization: Bearer or from one
// of the key headers (X-API-Key and the route's own header, if any, in
// canonical form). A header given twice, or keys in two places, is refused rather than
// guessed at, because proxies and frameworks disagree about which copy
// wins.
func findCredential(h http.Header, keyHeaders []string) (credential, credentialProblem) {
	var found credential

	for _, name := range keyHeaders {
		values := h[name]
		if len(values) == 0 {
			continue
		}
		if len(values) > 1 || found.token != "" {
			return credential{}, credDuplicated
		}
		if tok := strings.TrimSpace(values[0]); tok != "" {
			found = credential{token: tok, header: name}
		}
	}

	if values := h["Authorization"]; len(values) > 0 {
		if len(values) > 1 {
			return credential{}, credDuplicated
		}
		scheme, tok, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
		switch {
		case ok && strings.EqualFold(scheme, "Bearer"):
			tok = strings.TrimSpace(tok)
			if found.token != "" {
				return credential{}, credDuplicated
			}
			if tok != "" {
				found = credential{token: tok, header: "Authorization"}
			}
		case found.token == "":
			// Basic or another scheme and no key header: the client did
			// not send an API key the way awragate reads one.
			return credential{}, credNotInScheme
		case authorizationHoldsToken(values[0]):
			// A key header carried the key, and this Authorization value,
			// which would go upstream, holds a token in another form
			// ("Bearer<TAB>", "Token"). Frameworks that read it would see
			// a second key that the gateway did not check.
			return credential{}, credDuplicated
		}
	}

	if found.token == "" {
		return credential{}, credMissing
	}
	return found, credOK
}
