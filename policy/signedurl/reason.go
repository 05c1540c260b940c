package signedurl

import "github.com/awra/awragate/policy"

// Reason codes for malformed signed URLs, defined in package policy with
// the other public codes and repeated here for readers of this package.
// All are sent with status 403.
const (
	// ReasonURLParameterDuplicated: X-Awra-Key-Id, X-Awra-Expires or
	// X-Awra-Signature appears more than once. Two copies would let the
	// verifier and the upstream read different values.
	ReasonURLParameterDuplicated = policy.ReasonURLParameterDuplicated

	// ReasonURLQuerySemicolon: the raw query contains a ';'. Some servers
	// split parameters on ';' and others do not, so the upstream could
	// see parameters that were never signed.
	ReasonURLQuerySemicolon = policy.ReasonURLQuerySemicolon

	// ReasonURLEscapeMalformed: the path or the query contains a '%' not
	// followed by two hex digits, or a raw space or ASCII control
	// character, which must be percent-encoded.
	ReasonURLEscapeMalformed = policy.ReasonURLEscapeMalformed

	// ReasonURLExpiresMalformed: X-Awra-Expires is not exactly 10 ASCII
	// digits without a leading zero (milliseconds, a sign, a decimal point,
	// a percent-escape or a date before 2001).
	ReasonURLExpiresMalformed = policy.ReasonURLExpiresMalformed
)
