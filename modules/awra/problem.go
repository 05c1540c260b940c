package awra

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/awra/awragate/policy"
)

// problem is an RFC 9457 problem details body with awragate's two extension
// members. Its text is public: it names a reason, never a secret.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Reason    string `json:"reason"`
	RequestID string `json:"request_id"`
}

// problemTypeBase prefixes the "type" URI of every problem; the reason code
// completes it. The URIs identify the problem and need not resolve.
const problemTypeBase = "https://awragate.dev/problems/"

// writeProblem sends a denial as application/problem+json. On 401 it adds
// WWW-Authenticate, which HTTP requires there, and Retry-After on any
// status when retryAfter > 0 seconds (429, and the 409 and 503 of webhooks).
func writeProblem(w http.ResponseWriter, reason policy.Reason, status int, detail, requestID string, retryAfter int) {
	body, _ := json.Marshal(problem{
		Type:      problemTypeBase + string(reason),
		Title:     reason.Title(),
		Status:    status,
		Detail:    detail,
		Reason:    string(reason),
		RequestID: requestID,
	})

	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if status == http.StatusUnauthorized {
		switch reason {
		case policy.ReasonKeyMissing:
			h.Set("WWW-Authenticate", `Bearer realm="awragate"`)
		case policy.ReasonSignatureMissing, policy.ReasonSignatureInvalid, policy.ReasonTimestampOutOfTolerance:
			// A webhook route wants a provider signature, for which no
			// scheme is registered; HTTP requires a challenge on 401.
			h.Set("WWW-Authenticate", `Signature realm="awragate"`)
		default:
			h.Set("WWW-Authenticate", `Bearer realm="awragate", error="invalid_token"`)
		}
	}
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
