package awra

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/signedurl"
)

func init() {
	caddy.RegisterModule(SignedURL{})
}

// SignedURL admits a request only when its URL carries a valid awragate
// signature: X-Awra-Key-Id names a configured key, X-Awra-Expires is a
// Unix time that has not passed and is within max_ttl, and
// X-Awra-Signature is the HMAC-SHA256 of the request's canonical string.
//
// The signature is checked on the method, host, path and query exactly as
// the client sent them. On allow the three control parameters are removed
// from the query and the rest is forwarded byte for byte. Any X-Awra-*
// header the client sent is removed. The upstream receives the id of the
// key that signed the link when key_id_header names a header, and the
// request id when the app's request_id_header names one.
// Ambiguous paths get 400 path_ambiguous as on every awra route.
//
// Denials are 403 application/problem+json bodies whose reason tells what
// failed (expired, lifetime too long, unknown key, malformed, invalid
// signature) but never which part of a signature was wrong.
type SignedURL struct {
	// Keys are the signing keys. Several may be active at once so that
	// links signed with an old key keep working during a rotation. Use a
	// placeholder such as {env.AWRA_URL_KEY} for each secret, so that it
	// stays out of the stored configuration.
	Keys []SigningKey `json:"keys,omitempty"`

	// MaxTTL is the longest lifetime a link may have, counted from the
	// request. Default: 24h. Maximum: 7 days.
	MaxTTL caddy.Duration `json:"max_ttl,omitempty"`

	// ClockSkew is the clock difference tolerated between the signer and
	// the gateway. Default: 30s. Maximum: 5m.
	ClockSkew caddy.Duration `json:"clock_skew,omitempty"`

	// KeyIDHeader names a header that carries the id of the key that
	// signed the link to the upstream, such as X-Awra-Url-Key-Id. When it
	// is empty or "off", no header is sent. That is the default because
	// each header costs the proxy work on every request.
	KeyIDHeader string `json:"key_id_header,omitempty"`

	verifier    *signedurl.Verifier
	recorder    decisionRecorder
	keyIDHeader string // canonical KeyIDHeader; empty for none
	idHeader    string // carries the request id upstream; empty for none
	logger      *zap.Logger
}

// awraURLKeyIDHeader is the gateway's own name for key_id_header.
const awraURLKeyIDHeader = "X-Awra-Url-Key-Id"

// SigningKey is one signed-URL key.
type SigningKey struct {
	// ID is the key id that links carry in X-Awra-Key-Id.
	ID string `json:"id"`

	// Secret is at least 32 bytes, used as raw bytes. Placeholders are
	// replaced at provision time; an empty result is an error.
	Secret string `json:"secret"`
}

// CaddyModule returns the Caddy module information.
func (SignedURL) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.awra_signed_url",
		New: func() caddy.Module { return new(SignedURL) },
	}
}

// Provision resolves the secrets and builds the verifier.
func (h *SignedURL) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()

	repl := caddy.NewReplacer()
	keys := make(map[string][]byte, len(h.Keys))
	for _, k := range h.Keys {
		if _, dup := keys[k.ID]; dup {
			return fmt.Errorf("key '%s' is configured twice; give every signing key its own id", k.ID)
		}
		secret := repl.ReplaceKnown(k.Secret, "")
		if secret == "" {
			// The configured text is a placeholder here, never a secret.
			return fmt.Errorf("key '%s': the secret '%s' is empty after placeholder replacement; set the environment variable it names", k.ID, k.Secret)
		}
		keys[k.ID] = []byte(secret)
	}

	var err error
	h.keyIDHeader, err = resolveForwardHeader("awra_signed_url: key_id_header", h.KeyIDHeader, awraURLKeyIDHeader, "X-Link-Key-Id")
	if err != nil {
		return err
	}

	v, err := signedurl.NewVerifier(signedurl.Config{
		Keys:      keys,
		MaxTTL:    time.Duration(h.MaxTTL),
		ClockSkew: time.Duration(h.ClockSkew),
	})
	if err != nil {
		return err
	}
	h.verifier = v

	appVal, err := ctx.App("awra")
	if err != nil {
		return fmt.Errorf("loading the awra app: %w", err)
	}
	app := appVal.(*App)
	h.recorder = app.recorderFor(h.logger)
	h.idHeader = app.idHeader
	return checkIDHeaderClash(h.idHeader, "awra_signed_url: key_id_header", h.keyIDHeader)
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *SignedURL) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	now := time.Now()
	d := startDecision("signed_url", r, now, h.recorder)
	defer d.release()

	stripRewriteHeaders(r.Header)
	// One context lookup serves the path check and the signed string.
	var sent *http.Request
	orig, ok := sentRequest(r)
	if ok {
		sent = &orig
	}
	if p := checkPaths(sent, d.path); p != policy.PathOK {
		return h.deny(w, d, policy.ReasonPathAmbiguous, string(p))
	}

	rawPath, rawQuery := sentPathAndQuery(r, sent)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	res := h.verifier.Verify(now, r.Method, scheme, r.Host, rawPath, rawQuery)
	d.keyID = res.KeyID
	if !res.Allowed() {
		return h.deny(w, d, res.Reason, signedURLDetail(res.Reason))
	}

	// Forward the query without the control parameters. When an earlier
	// handler rewrote the query, strip them from the rewritten one.
	if r.URL.RawQuery == rawQuery {
		r.URL.RawQuery = res.Query
	} else {
		r.URL.RawQuery = stripControlParams(r.URL.RawQuery)
	}

	stripAwraHeaders(r.Header)
	guardTrailers(r)
	if h.keyIDHeader != "" {
		setIdentity(r.Header, h.idHeader, d, h.keyIDHeader, res.KeyID)
	} else {
		setIdentity(r.Header, h.idHeader, d)
	}

	return serveAllowed(w, r, next, d, h.recorder)
}

func (h *SignedURL) deny(w http.ResponseWriter, d *decision, reason policy.Reason, detail string) error {
	d.reason = reason
	d.status = reason.Status()
	h.recorder.record(d)
	writeProblem(w, reason, d.status, detail, d.id(), 0)
	return nil
}

// sentPathAndQuery returns the raw path and query as the client sent them,
// before any rewrite: those of sent, or of r when sent is nil.
func sentPathAndQuery(r, sent *http.Request) (rawPath, rawQuery string) {
	uri := r.RequestURI
	if sent != nil {
		uri = sent.RequestURI
	}
	if uri == "" {
		return r.URL.EscapedPath(), r.URL.RawQuery
	}
	if uri[0] != '/' {
		// Absolute form: drop the scheme and authority.
		if i := strings.Index(uri, "://"); i >= 0 {
			rest := uri[i+3:]
			if j := strings.IndexAny(rest, "/?"); j >= 0 {
				uri = rest[j:]
			} else {
				uri = "/"
			}
		}
	}
	rawPath, rawQuery, _ = strings.Cut(uri, "?")
	return rawPath, rawQuery
}

// stripControlParams removes the three signed-URL control parameters from
// a raw query and keeps every other piece as it is.
func stripControlParams(rawQuery string) string {
	var b strings.Builder
	for piece := range strings.SplitSeq(rawQuery, "&") {
		name, _, _ := strings.Cut(piece, "=")
		if isControlParam(name) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(piece)
	}
	return b.String()
}

func isControlParam(rawName string) bool {
	name := rawName
	if strings.IndexByte(name, '%') >= 0 {
		var buf []byte
		for i := 0; i < len(name); i++ {
			c := name[i]
			if c == '%' && i+2 < len(name) && isHexDigit(name[i+1]) && isHexDigit(name[i+2]) {
				c = hexValue(name[i+1])<<4 | hexValue(name[i+2])
				i += 2
			}
			buf = append(buf, c)
		}
		name = string(buf)
	}
	return name == signedurl.ParamKeyID || name == signedurl.ParamExpires || name == signedurl.ParamSignature
}

// signedURLDetail explains a denial. It never reveals which part of a
// signature was wrong.
func signedURLDetail(reason policy.Reason) string {
	switch reason {
	case policy.ReasonURLExpired:
		return "the link has expired; ask for a new one"
	case policy.ReasonURLTTLTooLong:
		return "the link's lifetime exceeds what this route accepts; ask for a link with a shorter lifetime"
	case policy.ReasonURLSignatureMissing:
		return "the link must carry X-Awra-Key-Id, X-Awra-Expires and X-Awra-Signature"
	case policy.ReasonURLKeyUnknown:
		return "the link was signed with a key this route does not accept"
	case policy.ReasonURLSignatureInvalid:
		return "the link's signature is not valid for this request"
	case signedurl.ReasonURLParameterDuplicated:
		return "a signed-link parameter appears more than once"
	case signedurl.ReasonURLQuerySemicolon:
		return "the query contains a ';'; separate parameters with '&'"
	case signedurl.ReasonURLEscapeMalformed:
		return "the link contains a malformed percent escape"
	case signedurl.ReasonURLExpiresMalformed:
		return "X-Awra-Expires must be a Unix time in seconds, exactly 10 digits"
	}
	return "the link is not valid"
}

// Interface guards
var (
	_ caddy.Provisioner           = (*SignedURL)(nil)
	_ caddyhttp.MiddlewareHandler = (*SignedURL)(nil)
)
