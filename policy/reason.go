// Package policy holds the decision logic of awragate: API keys and scopes,
// CIDR allowlists, path safety, signed URLs, webhook schemes and audit
// events. It imports nothing from Caddy, takes time as a parameter and is
// safe for concurrent use unless a type's documentation says otherwise.
package policy

import "net/http"

// Reason is the machine-readable code of a decision. Clients see it in the
// "reason" member of a problem+json error body and auditors in the "reason"
// field of an audit event. The codes are a public contract: never rename one.
type Reason string

// Reason codes of denials, grouped by the HTTP status they are sent with.
const (
	ReasonNone Reason = ""

	// 400
	ReasonPathAmbiguous Reason = "path_ambiguous"

	// 401
	ReasonKeyMissing              Reason = "key_missing"
	ReasonKeyInvalid              Reason = "key_invalid"
	ReasonKeyExpired              Reason = "key_expired"
	ReasonKeyRevoked              Reason = "key_revoked"
	ReasonSignatureMissing        Reason = "signature_missing"
	ReasonSignatureInvalid        Reason = "signature_invalid"
	ReasonTimestampOutOfTolerance Reason = "timestamp_out_of_tolerance"

	// 403
	ReasonScopeMissing        Reason = "scope_missing"
	ReasonIPNotAllowed        Reason = "ip_not_allowed"
	ReasonKeySuspended        Reason = "key_suspended"
	ReasonKeyQuarantined      Reason = "key_quarantined"
	ReasonURLExpired          Reason = "url_expired"
	ReasonURLTTLTooLong       Reason = "url_ttl_too_long"
	ReasonURLSignatureMissing Reason = "url_signature_missing"
	ReasonURLSignatureInvalid Reason = "url_signature_invalid"
	ReasonURLKeyUnknown       Reason = "url_key_unknown"
	ReasonSourceIPNotAllowed  Reason = "source_ip_not_allowed"

	// Malformed signed URLs, each with its own code: a control parameter
	// given twice, a ';' in the query, a malformed percent escape, and an
	// expiry that is not exactly 10 digits.
	ReasonURLParameterDuplicated Reason = "url_parameter_duplicated"
	ReasonURLQuerySemicolon      Reason = "url_query_semicolon"
	ReasonURLEscapeMalformed     Reason = "url_escape_malformed"
	ReasonURLExpiresMalformed    Reason = "url_expires_malformed"

	// 409
	ReasonWebhookReplayed Reason = "webhook_replayed"

	// 413
	ReasonBodyTooLarge Reason = "body_too_large"

	// 429
	ReasonRateLimited        Reason = "rate_limited"
	ReasonRetryLimitExceeded Reason = "retry_limit_exceeded"

	// 503: the webhook replay store (Redis) could not be reached, so a delivery
	// cannot be checked for replays and is refused rather than let through.
	ReasonReplayStoreUnavailable Reason = "replay_store_unavailable"

	// 200 without forwarding: a webhook event that was already delivered.
	ReasonWebhookDuplicate Reason = "webhook_duplicate"
)

// Status returns the HTTP status sent to the client for a denial with
// reason r. It returns 0 for ReasonNone and for codes that are not denials.
func (r Reason) Status() int {
	switch r {
	case ReasonPathAmbiguous:
		return http.StatusBadRequest
	case ReasonKeyMissing, ReasonKeyInvalid, ReasonKeyExpired, ReasonKeyRevoked,
		ReasonSignatureMissing, ReasonSignatureInvalid, ReasonTimestampOutOfTolerance:
		return http.StatusUnauthorized
	case ReasonScopeMissing, ReasonIPNotAllowed, ReasonKeySuspended, ReasonKeyQuarantined,
		ReasonURLExpired, ReasonURLTTLTooLong, ReasonURLSignatureMissing, ReasonURLSignatureInvalid,
		ReasonURLKeyUnknown, ReasonSourceIPNotAllowed, ReasonURLParameterDuplicated,
		ReasonURLQuerySemicolon, ReasonURLEscapeMalformed, ReasonURLExpiresMalformed:
		return http.StatusForbidden
	case ReasonWebhookReplayed:
		return http.StatusConflict
	case ReasonBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	case ReasonRateLimited, ReasonRetryLimitExceeded:
		return http.StatusTooManyRequests
	case ReasonReplayStoreUnavailable:
		return http.StatusServiceUnavailable
	}
	return 0
}

// Title returns the short human-readable summary of a reason, used as the
// "title" member of a problem+json body.
func (r Reason) Title() string {
	switch r {
	case ReasonPathAmbiguous:
		return "Ambiguous request path"
	case ReasonKeyMissing:
		return "API key missing"
	case ReasonKeyInvalid:
		return "API key invalid"
	case ReasonKeyExpired:
		return "API key expired"
	case ReasonKeyRevoked:
		return "API key revoked"
	case ReasonSignatureMissing:
		return "Webhook signature missing"
	case ReasonSignatureInvalid:
		return "Webhook signature invalid"
	case ReasonTimestampOutOfTolerance:
		return "Webhook timestamp out of tolerance"
	case ReasonScopeMissing:
		return "Scope missing"
	case ReasonIPNotAllowed:
		return "Client address not allowed for this key"
	case ReasonKeySuspended:
		return "API key suspended"
	case ReasonKeyQuarantined:
		return "API key quarantined"
	case ReasonURLExpired:
		return "Signed URL expired"
	case ReasonURLTTLTooLong:
		return "Signed URL lifetime too long"
	case ReasonURLSignatureMissing:
		return "Signed URL signature missing"
	case ReasonURLSignatureInvalid:
		return "Signed URL signature invalid"
	case ReasonURLKeyUnknown:
		return "Signed URL key unknown"
	case ReasonSourceIPNotAllowed:
		return "Webhook source address not allowed"
	case ReasonURLParameterDuplicated:
		return "Signed URL control parameter repeated"
	case ReasonURLQuerySemicolon:
		return "Signed URL query contains a semicolon"
	case ReasonURLEscapeMalformed:
		return "Signed URL contains a malformed percent escape"
	case ReasonURLExpiresMalformed:
		return "Signed URL expiry malformed"
	case ReasonWebhookReplayed:
		return "Webhook delivery replayed"
	case ReasonBodyTooLarge:
		return "Request body too large"
	case ReasonRateLimited:
		return "Rate limit exceeded"
	case ReasonRetryLimitExceeded:
		return "Webhook retry limit exceeded"
	case ReasonReplayStoreUnavailable:
		return "Webhook replay store unavailable"
	case ReasonWebhookDuplicate:
		return "Webhook event already delivered"
	}
	return "Request denied"
}
