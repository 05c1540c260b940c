package signedurl

import (
	"net/http"

	"github.com/awra/awragate/policy"
)

// Reason codes for malformed signed URLs. The shared table in package
// policy has no code for these failures, and each failure gets its own code,
// so this package defines them. All are sent with status 403; use Status
// and Title to map any reason this package returns.
const (
	// ReasonURLParameterDuplicated: X-Awra-Key-Id, X-Awra-Expires or
	// X-Awra-Signature appears more than once. Two copies would let the
	// verifier and the upstream read different values.
	ReasonURLParameterDuplicated policy.Reason = "url_parameter_duplicated"

	// ReasonURLQuerySemicolon: the raw query contains a ';'. Some servers
	// split parameters on ';' and others do not, so the upstream could
	// see parameters that were never signed.
	ReasonURLQuerySemicolon policy.Reason = "url_query_semicolon"

	// ReasonURLEscapeMalformed: the path or the query contains a '%' not
	// followed by two hex digits, or a raw space or ASCII control
	// character, which must be percent-encoded.
	ReasonURLEscapeMalformed policy.Reason = "url_escape_malformed"

	// ReasonURLExpiresMalformed: X-Awra-Expires is not exactly 10 ASCII
	// digits without a leading zero (milliseconds, a sign, a decimal point,
	// a percent-escape or a date before 2001).
	ReasonURLExpiresMalformed policy.Reason = "url_expires_malformed"
)

// Status returns the HTTP status for a reason returned by Verify: 403 for
// the codes defined in this package and r.Status() for the others.
func Status(r policy.Reason) int {
	switch r {
	case ReasonURLParameterDuplicated, ReasonURLQuerySemicolon,
		ReasonURLEscapeMalformed, ReasonURLExpiresMalformed:
		return http.StatusForbidden
	}
	return r.Status()
}

// Title returns the short human-readable summary of a reason returned by
// Verify, for the "title" member of a problem+json body.
func Title(r policy.Reason) string {
	switch r {
	case ReasonURLParameterDuplicated:
		return "Signed URL control parameter repeated"
	case ReasonURLQuerySemicolon:
		return "Signed URL query contains a semicolon"
	case ReasonURLEscapeMalformed:
		return "Signed URL contains a malformed percent-escape"
	case ReasonURLExpiresMalformed:
		return "Signed URL expiry malformed"
	}
	return r.Title()
}
