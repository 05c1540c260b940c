// Package signedurl signs and verifies awragate signed URLs: links that
// carry their own authorization in three query parameters, X-Awra-Key-Id,
// X-Awra-Expires and X-Awra-Signature.
//
// The signature is the HMAC-SHA256 of a canonical string, keyed with the raw
// bytes of a secret of at least 32 bytes, encoded as base64url without
// padding. The canonical string is five lines joined by "\n":
//
//	AWRA-HMAC-SHA256
//	METHOD            ASCII upper-case
//	HOST              ASCII lower-case, ":443" removed for https and ":80" for http
//	PATH              as sent, "/" when empty; every percent-escape written with
//	                  upper-case hex, escapes of unreserved characters
//	                  (A-Z a-z 0-9 - . _ ~) decoded, nothing else decoded
//	CANONICAL_QUERY   see below
//
// CANONICAL_QUERY is built from the raw query: it is split on '&', empty
// pieces are skipped, and each piece is split at its first '=' into a name
// and a value (a piece without '=' has an empty value, so "a" and "a=" are
// the same parameter). Every X-Awra-Signature parameter is left out. Name and
// value are percent-decoded ('+' stays a literal plus) and re-encoded:
// unreserved characters as themselves, every other byte as %XX with
// upper-case hex. The parameters are sorted by encoded name, then by encoded
// value, in byte order, and joined as name=value with '&'. A query with no
// parameters gives an empty line.
//
// The scheme is not signed. It only selects the default port that HOST
// drops, so a link signed for https://h/ also verifies as http://h/.
//
// A control parameter is recognised by its decoded name, compared with
// exact case: "X-Awra-Expire%73" is X-Awra-Expires, "x-awra-expires" is an
// ordinary parameter. X-Awra-Expires must be exactly 10 ASCII digits without
// a leading zero, as sent (not percent-encoded). X-Awra-Key-Id is a key id of
// 1 to 64 characters of a-z, 0-9 and '-'. X-Awra-Signature, once
// percent-decoded, is exactly 43 characters of base64url without padding,
// with the unused low bits of the last character zero.
//
// The raw path and raw query are parsed here, never with net/url's
// URL.Query, which turns '+' into a space and drops pairs after a ';'.
// Pass the path and query exactly as the client sent them, for example the
// two halves of http.Request.RequestURI split at the first '?'.
package signedurl

import "time"

// Names of the control parameters, the algorithm line and the limits of the
// scheme.
const (
	ParamKeyID     = "X-Awra-Key-Id"
	ParamExpires   = "X-Awra-Expires"
	ParamSignature = "X-Awra-Signature"

	// Algorithm is the first line of every canonical string.
	Algorithm = "AWRA-HMAC-SHA256"

	// MinSecretLength is the shortest secret accepted, in bytes.
	MinSecretLength = 32

	// DefaultMaxTTL is the longest lifetime a verifier accepts when its
	// Config leaves MaxTTL zero.
	DefaultMaxTTL = 24 * time.Hour

	// MaxTTLLimit is the largest MaxTTL a verifier can be configured with.
	MaxTTLLimit = 7 * 24 * time.Hour

	// DefaultClockSkew is the clock difference tolerated between the signer
	// and the verifier when Config leaves ClockSkew zero.
	DefaultClockSkew = 30 * time.Second

	// MaxClockSkew is the largest ClockSkew a verifier accepts. The skew
	// extends the life of every link, so a large value weakens expiry.
	MaxClockSkew = 5 * time.Minute

	// signatureLength is the length of an encoded signature: 32 bytes of
	// HMAC-SHA256 in base64url without padding.
	signatureLength = 43

	// expiresLength is the number of digits of X-Awra-Expires.
	expiresLength = 10
)
