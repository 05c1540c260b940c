package awra

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/webhook"
)

func init() {
	caddy.RegisterModule(Webhook{})
}

// Webhook admits a webhook delivery only when it carries a valid signature
// of the configured provider over the exact body bytes. For providers that
// sign a timestamp, it must be within tolerance. The delivery must not be
// a replay, and its event must have delivery attempts left. The body is
// read once, up to max_body, and forwarded byte for byte with a
// Content-Length.
//
// Replays and duplicates are recognised by digests of signed content only,
// never by an unsigned delivery header:
//
//   - The same signed bytes again (same timestamp) get 409
//     webhook_replayed. Providers without a signed timestamp (paystack,
//     quickbooks, github, shopify, hmac without timestamp_header) have no
//     replay key, so their replays are caught as duplicates instead.
//   - An event that the upstream already accepted with a 2xx gets 200
//     {"status":"duplicate"} without being forwarded, for replay_window.
//   - An event that is at the upstream right now gets 409
//     webhook_replayed with Retry-After, so that two copies sent at once
//     never both reach the upstream.
//   - More than max_deliveries attempts for one event within
//     replay_window get 429 retry_limit_exceeded.
//
// On a route with several secrets this state is checked and stored under
// each secret. So a copy that keeps only some of the signatures of a
// delivery signed during a rotation is still recognised, and the attempts
// of an event are counted once, whichever secret verifies them.
//
// After a failed delivery (a handler error or any non-2xx status, which
// providers treat as failed) the replay keys and the in-flight markers
// are removed, so the provider's retry goes through.
//
// The state is kept in the awra app's Redis, shared by every instance.
// Without a redis option it is kept in this process, which protects one
// instance only. When Redis cannot be reached the handler fails closed:
// 503 replay_store_unavailable with Retry-After, and nothing is forwarded.
//
// Before anything else the handler rejects ambiguous paths with 400
// path_ambiguous, removes X-Forwarded-Uri, X-Original-URL and
// X-Rewrite-URL, and applies source_cidrs to Caddy's client IP (403
// source_ip_not_allowed). On allow, X-Awra-* headers sent by the client
// are removed and the upstream receives X-Awra-Webhook-Provider and, when
// the app's request_id_header names a header, the request id. Signature headers are
// forwarded unchanged.
//
// Denials are application/problem+json: 400, 401 signature_missing,
// signature_invalid or timestamp_out_of_tolerance, 403, 409, 413
// body_too_large, 429 and 503.
type Webhook struct {
	// Provider selects the signature scheme: paystack, quickbooks,
	// stripe, github, shopify, slack, standard (Standard Webhooks, Svix)
	// or hmac (configured by the options below). Required.
	Provider string `json:"provider,omitempty"`

	// Secrets are the active signing secrets, 1 to 4 of them, so that a
	// rotation needs no downtime. Use placeholders such as
	// {env.PAYSTACK_SECRET}: they are replaced at provision time, and an
	// empty result is an error. A secret written into the configuration
	// is returned by the admin API, so it is logged as a warning.
	Secrets []string `json:"secrets,omitempty"`

	// Tolerance is the largest distance between a delivery's signed
	// timestamp and the gateway clock, in either direction. Default: 5m.
	// Range: 1s to 1h. Providers without a timestamp ignore it.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`

	// MaxBody is the largest body accepted, in bytes. Default: 1 MiB.
	// Maximum: 64 MiB. The whole body is held in memory while it is
	// verified and forwarded.
	MaxBody int64 `json:"max_body,omitempty"`

	// SourceCIDRs, when set, admit deliveries only from Caddy's client IP
	// in these networks (IPv4 or IPv6 CIDRs or single addresses), for
	// providers that publish their sending addresses. Optional.
	SourceCIDRs []string `json:"source_cidrs,omitempty"`

	// ReplayWindow is how long an event is remembered as delivered, and
	// the period over which max_deliveries counts attempts. Default: 24h.
	// Range: 1m to 30 days. Cover the provider's retry schedule.
	ReplayWindow caddy.Duration `json:"replay_window,omitempty"`

	// MaxDeliveries is the most delivery attempts of one event forwarded
	// within replay_window. Default: 10. Range: 1 to 1000.
	MaxDeliveries int `json:"max_deliveries,omitempty"`

	// Header, Algorithm, Encoding, Prefix, TimestampHeader, IDHeader and
	// Template configure provider hmac, as documented on
	// webhook.HMACOptions. They must be empty for every other provider.
	// Header names may not start with X-Awra-, which is reserved for the
	// gateway.
	Header          string `json:"header,omitempty"`
	Algorithm       string `json:"algorithm,omitempty"`
	Encoding        string `json:"encoding,omitempty"`
	Prefix          string `json:"prefix,omitempty"`
	TimestampHeader string `json:"timestamp_header,omitempty"`
	IDHeader        string `json:"id_header,omitempty"`
	Template        string `json:"template,omitempty"`

	verifier      *webhook.Verifier
	sources       *policy.Allowlist // nil when SourceCIDRs is empty
	maxBody       int64
	window        time.Duration
	maxDeliveries int
	keyPrefixes   []string // per secret, see storeKeyPrefixes
	store         deliveryStore
	storeErrors   *logThrottle
	recorder      decisionRecorder
	app           *App
	idHeader      string // carries the request id upstream; empty for none
	logger        *zap.Logger
}

// Defaults and limits of the Webhook settings.
const (
	defaultWebhookMaxBody  = 1 << 20
	maxWebhookMaxBody      = 64 << 20
	defaultReplayWindow    = 24 * time.Hour
	minReplayWindow        = time.Minute
	maxReplayWindow        = 30 * 24 * time.Hour
	defaultMaxDeliveries   = 10
	maxMaxDeliveries       = 1000
	storeErrorLogInterval  = 10 * time.Second
	inProcessStoreLogTitle = "webhook replay store is in-process; instances do not share it"
)

// inProcessStoreLogged makes the in-process store notice appear once per
// process rather than once per route or reload.
var inProcessStoreLogged atomic.Bool

// CaddyModule returns the Caddy module information.
func (Webhook) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.awra_webhook",
		New: func() caddy.Module { return new(Webhook) },
	}
}

// Provision resolves the secrets, builds the verifier and picks the
// delivery store: the awra app's Redis when it has one, else the
// in-process store.
func (h *Webhook) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := h.compile(); err != nil {
		return err
	}

	appVal, err := ctx.App("awra")
	if err != nil {
		return fmt.Errorf("loading the awra app: %w", err)
	}
	app := appVal.(*App)
	h.app = app
	h.idHeader = app.idHeader
	for _, opt := range [...]struct{ name, value string }{
		{"header", h.Header}, {"timestamp_header", h.TimestampHeader}, {"id_header", h.IDHeader},
	} {
		if err := checkIDHeaderClash(h.idHeader, "awra_webhook: "+opt.name, opt.value); err != nil {
			return err
		}
	}
	h.recorder = app.recorderFor(h.logger)
	h.store = h.chooseStore(app.RedisClient())
	return nil
}

// compile checks the settings and builds everything ServeHTTP looks up.
// It needs h.logger.
func (h *Webhook) compile() error {
	if h.Provider == "" {
		return fmt.Errorf("provider is missing: set one of %s", strings.Join(webhook.Providers(), ", "))
	}
	secrets, err := h.resolveSecrets()
	if err != nil {
		return err
	}
	if err := h.checkHeaderNames(); err != nil {
		return err
	}

	h.verifier, err = webhook.New(webhook.Config{
		Provider:  h.Provider,
		Secrets:   secrets,
		Tolerance: time.Duration(h.Tolerance),
		HMAC:      h.hmacOptions(),
	})
	if err != nil {
		return err
	}

	if len(h.SourceCIDRs) > 0 {
		if h.sources, err = policy.NewAllowlist(h.SourceCIDRs); err != nil {
			return fmt.Errorf("source_cidrs: %w", err)
		}
	}

	h.maxBody, err = withDefault(h.MaxBody, defaultWebhookMaxBody, 1, maxWebhookMaxBody,
		"max_body: invalid size %d bytes: use a size from 1 byte to 64MiB, such as 1MiB")
	if err != nil {
		return err
	}
	window, err := withDefault(time.Duration(h.ReplayWindow), defaultReplayWindow, minReplayWindow, maxReplayWindow,
		"replay_window: invalid duration %s: use a duration from 1m to 720h, such as 24h")
	if err != nil {
		return err
	}
	h.window = window
	h.maxDeliveries, err = withDefault(h.MaxDeliveries, defaultMaxDeliveries, 1, maxMaxDeliveries,
		"max_deliveries: invalid value %d: use a number from 1 to 1000")
	if err != nil {
		return err
	}

	h.keyPrefixes = storeKeyPrefixes(h.Provider, h.hmacOptions(), secrets)
	h.storeErrors = &logThrottle{interval: storeErrorLogInterval}
	return nil
}

// resolveSecrets replaces the placeholders in each secret. The error
// names the provider, the position and the placeholder text, which holds
// no secret because it replaced to nothing.
func (h *Webhook) resolveSecrets() ([]string, error) {
	if len(h.Secrets) == 0 {
		return nil, fmt.Errorf("webhook provider '%s': no secret is configured: add 'secret {env.NAME}' with the provider's signing secret", h.Provider)
	}
	repl := caddy.NewReplacer()
	secrets := make([]string, len(h.Secrets))
	for i, raw := range h.Secrets {
		secrets[i] = repl.ReplaceKnown(raw, "")
		if secrets[i] == "" {
			return nil, fmt.Errorf("webhook provider '%s': secret %d ('%s') is empty after placeholder replacement: set the environment variable it names", h.Provider, i+1, raw)
		}
		if !strings.Contains(raw, "{") {
			h.logger.Warn("webhook secret is written in the configuration, which the admin API returns; use a placeholder such as {env.NAME}",
				zap.String("provider", h.Provider), zap.Int("secret", i+1))
		}
	}
	return secrets, nil
}

// checkHeaderNames rejects hmac headers in the X-Awra- namespace, which
// the handler strips from every forwarded request.
func (h *Webhook) checkHeaderNames() error {
	for _, name := range []string{h.Header, h.TimestampHeader, h.IDHeader} {
		if len(name) >= 7 && strings.EqualFold(name[:7], "X-Awra-") {
			return fmt.Errorf("header '%s': X-Awra-* headers are reserved for the gateway; choose another name", name)
		}
	}
	return nil
}

func (h *Webhook) hmacOptions() webhook.HMACOptions {
	return webhook.HMACOptions{
		Header:          h.Header,
		Algorithm:       h.Algorithm,
		Encoding:        h.Encoding,
		Prefix:          h.Prefix,
		TimestampHeader: h.TimestampHeader,
		IDHeader:        h.IDHeader,
		Template:        h.Template,
	}
}

// chooseStore returns the Redis store when client is set, else the
// process-wide in-process store, which it announces once per process.
func (h *Webhook) chooseStore(client *redis.Client) deliveryStore {
	if client != nil {
		return redisDeliveryStore{client: client}
	}
	if inProcessStoreLogged.CompareAndSwap(false, true) {
		h.logger.Info(inProcessStoreLogTitle, zap.String("provider", h.Provider))
	}
	return processDeliveryStore
}

// storeKeyPrefixes returns one key prefix per secret. Each is
// "awra:webhook:<id>:", where id is 96 bits of an HMAC keyed with the
// secret over the provider and its hmac options. Routes with other secrets
// or options never share state. Routes with the same secret do, so a
// replay across them is still a replay. A rotation that adds a secret
// keeps the state of deliveries signed with the old one. No secret can be
// read back from a key. The id is outside the Redis Cluster hash tag,
// because newDeliveryKeys appends "{<event digest>}:" and the key's kind.
// So the keys of one delivery under every secret of a route share a slot,
// which the Lua scripts need.
func storeKeyPrefixes(provider string, o webhook.HMACOptions, secrets []string) []string {
	fields := []string{provider, o.Header, o.Algorithm, o.Encoding, o.Prefix, o.TimestampHeader, o.IDHeader, o.Template}
	prefixes := make([]string, len(secrets))
	for i, secret := range secrets {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte("awragate/webhook/store-key/v1"))
		for _, f := range fields {
			mac.Write(binary.AppendUvarint(nil, uint64(len(f))))
			mac.Write([]byte(f))
		}
		prefixes[i] = "awra:webhook:" + hex.EncodeToString(mac.Sum(nil)[:12]) + ":"
	}
	return prefixes
}

// withDefault returns value, or def when value is zero, and an error built
// from format when the result is outside [lo, hi].
func withDefault[T int | int64 | time.Duration](value, def, lo, hi T, format string) (T, error) {
	if value == 0 {
		return def, nil
	}
	if value < lo || value > hi {
		return 0, fmt.Errorf(format, value)
	}
	return value, nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Webhook)(nil)
	_ caddyhttp.MiddlewareHandler = (*Webhook)(nil)
)
