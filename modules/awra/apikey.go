package awra

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/alert"
)

func init() {
	caddy.RegisterModule(APIKey{})
}

// defaultKeyHeader is read on every route, in canonical form.
const defaultKeyHeader = "X-Api-Key"

// APIKey admits a request only when it carries a valid API key from the
// awra app's registry. The key must hold every required scope, be active,
// unexpired and not quarantined, be used from one of its allowed networks
// and be within its rate limit. Every response for a key with a rate
// limit carries the RateLimit-Policy and RateLimit fields. A denial for
// an address outside the key's networks is reported to the app's alerts.
//
// The key is read from "Authorization: Bearer <token>", from X-API-Key or
// from the route's own key header. On allow, the credential headers and
// any X-Awra-* headers sent by the client are removed, and the upstream
// receives X-Awra-Key-Id, X-Awra-Scopes and, when the app's
// request_id_header names a header, the request id.
//
// Before the key is checked, the handler rejects ambiguous paths (dot
// segments, encoded slashes, backslashes, NUL, ';') with 400
// path_ambiguous and removes X-Forwarded-Uri, X-Original-URL and
// X-Rewrite-URL.
//
// Denials are application/problem+json bodies with a reason code and a
// request id: 400, 401 (with WWW-Authenticate), 403 and 429 (with
// Retry-After).
type APIKey struct {
	// Scopes the route requires, each "resource:action" without
	// wildcards. A key must hold all of them. Empty means any valid key.
	Scopes []string `json:"scopes,omitempty"`

	// Header is a request header that carries the key besides
	// Authorization: Bearer and X-API-Key, for clients that cannot
	// change the header they send. Optional.
	Header string `json:"header,omitempty"`

	required    []policy.Scope
	keyHeaders  []string
	credHeaders []string // Authorization and keyHeaders, kept out of trailers
	idHeader    string   // carries the request id upstream; empty for none
	app         *App
	recorder    decisionRecorder
	logger      *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (APIKey) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.awra_api_key",
		New: func() caddy.Module { return new(APIKey) },
	}
}

// Provision compiles the required scopes and connects to the awra app.
func (h *APIKey) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()

	for _, s := range h.Scopes {
		sc, err := policy.ParseRequiredScope(s)
		if err != nil {
			return fmt.Errorf("scopes: %w", err)
		}
		h.required = append(h.required, sc)
	}
	h.keyHeaders = []string{defaultKeyHeader}
	if h.Header != "" && http.CanonicalHeaderKey(h.Header) != defaultKeyHeader {
		h.keyHeaders = append(h.keyHeaders, http.CanonicalHeaderKey(h.Header))
	}
	h.credHeaders = append([]string{"Authorization"}, h.keyHeaders...)

	appVal, err := ctx.App("awra")
	if err != nil {
		return fmt.Errorf("loading the awra app: %w", err)
	}
	h.app = appVal.(*App)
	if h.app.Registry() == nil {
		return fmt.Errorf("awra_api_key needs a key registry: set keys_file, or keys_store redis, in the awra global option")
	}
	h.recorder = h.app.recorderFor(h.logger)
	h.idHeader = h.app.idHeader
	return checkIDHeaderClash(h.idHeader, "awra_api_key: header", h.Header)
}

// Validate rejects a key header that would clash with identity headers.
func (h *APIKey) Validate() error {
	if len(h.Header) >= 7 && http.CanonicalHeaderKey(h.Header[:7]) == "X-Awra-" {
		return fmt.Errorf("header '%s': X-Awra-* headers are reserved for the gateway; choose another name", h.Header)
	}
	if http.CanonicalHeaderKey(h.Header) == "Authorization" {
		return fmt.Errorf("header 'Authorization' is always read; set header only for a second header such as X-API-Key")
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *APIKey) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	now := time.Now()
	d := startDecision("api_key", r, now, h.recorder)
	defer d.release()
	client := d.clientIP

	stripRewriteHeaders(r.Header)

	if p := checkRequestPaths(r, d.path); p != policy.PathOK {
		return h.deny(w, d, policy.ReasonPathAmbiguous, string(p), 0)
	}
	if queryCarriesKey(r.URL.RawQuery) {
		return h.deny(w, d, policy.ReasonKeyMissing, string(credInQuery), 0)
	}

	cred, problem := findCredential(r.Header, h.keyHeaders)
	switch problem {
	case credOK:
	case credDuplicated:
		return h.deny(w, d, policy.ReasonKeyInvalid, string(problem), 0)
	default:
		return h.deny(w, d, policy.ReasonKeyMissing, string(problem), 0)
	}

	res := h.app.Registry().Authenticate(policy.AuthRequest{
		Token:    cred.token,
		ClientIP: client,
		Required: h.required,
		Now:      now,
	})
	d.keyID = res.KeyID
	if h.app.quarantined(res) {
		return h.deny(w, d, policy.ReasonKeyQuarantined, "the API key is quarantined after repeated use from outside its networks; ask the key's owner or a security admin to resume it", 0)
	}
	if !res.Allowed() {
		if res.Reason == policy.ReasonIPNotAllowed {
			h.app.reportBypass(alert.Bypass{
				Module:   d.module,
				Reason:   res.Reason,
				KeyID:    res.Key.ID,
				Owner:    res.Key.Record.Owner,
				ClientIP: client,
				Allowed:  res.Key.AllowedNetworks(),
				At:       now,
			})
		}
		return h.deny(w, d, res.Reason, authDetail(res), 0)
	}
	k := res.Key
	d.scopes = k.ScopesHeader

	// The rate limit fields go on every response of a limited key, so they
	// are set before the request goes on.
	if lr, limited := h.app.limits.check(r.Context(), w.Header(), k, now); limited && !lr.Allowed {
		return h.deny(w, d, policy.ReasonRateLimited, "the key's rate limit is exceeded; retry after the time in Retry-After", lr.RetryAfterSeconds())
	}

	// The request passes: replace the credential with the identity.
	delete(r.Header, cred.header)
	for _, name := range h.keyHeaders {
		delete(r.Header, name)
	}
	stripAwraHeaders(r.Header)
	guardTrailers(r, h.credHeaders...)
	setIdentity(r.Header, h.idHeader, d, "X-Awra-Key-Id", k.ID, "X-Awra-Scopes", k.ScopesHeader)

	return serveAllowed(w, r, next, d, h.recorder)
}

func (h *APIKey) deny(w http.ResponseWriter, d *decision, reason policy.Reason, detail string, retryAfter int) error {
	d.reason = reason
	d.status = reason.Status()
	h.recorder.record(d)
	writeProblem(w, reason, d.status, detail, d.id(), retryAfter)
	return nil
}

// authDetail explains a denial without revealing anything about the key's
// secret or which of its properties an attacker guessed right.
func authDetail(res policy.AuthResult) string {
	switch res.Reason {
	case policy.ReasonKeyInvalid:
		return "the API key is not valid"
	case policy.ReasonKeyRevoked:
		return "the API key has been revoked; ask the key's owner for a new one"
	case policy.ReasonKeySuspended:
		return "the API key is suspended; ask the key's owner to resume it"
	case policy.ReasonKeyExpired:
		return "the API key has expired; ask the key's owner to rotate it"
	case policy.ReasonIPNotAllowed:
		return "the API key may not be used from this network"
	case policy.ReasonScopeMissing:
		return "the API key lacks the scope '" + res.Missing.String() + "' that this route requires"
	}
	return "the request was denied"
}

// Interface guards
var (
	_ caddy.Provisioner           = (*APIKey)(nil)
	_ caddy.Validator             = (*APIKey)(nil)
	_ caddyhttp.MiddlewareHandler = (*APIKey)(nil)
)
