package awra

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/awra/awragate/policy/audit"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("awra", parseAppOption)

	httpcaddyfile.RegisterHandlerDirective("awra_api_key", parseAPIKey)
	httpcaddyfile.RegisterDirectiveOrder("awra_api_key", httpcaddyfile.Before, "handle")

	httpcaddyfile.RegisterHandlerDirective("awra_signed_url", parseSignedURL)
	httpcaddyfile.RegisterDirectiveOrder("awra_signed_url", httpcaddyfile.Before, "handle")
}

// parseAppOption reads the awra global option:
//
//	awra {
//		redis <url>
//		keys_file <path>
//		keys_poll_interval <duration>
//		audit { ... }
//		instance <name>
//		instances <count>
//		rate_limit_store local|redis
//		rate_limit_timeout <duration>
//		keys_store file|redis
//		keys_cache_ttl <duration>
//		alerts { ... }
//	}
func parseAppOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the awra global option may appear only once")
	}
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "awra", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from Caddyfile tokens.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		if seen[name] {
			return d.Errf("'%s' is set twice; keep one", name)
		}
		seen[name] = true

		switch name {
		case "redis":
			if err := singleArg(d, &a.Redis); err != nil {
				return err
			}
		case "keys_file":
			if err := singleArg(d, &a.KeysFile); err != nil {
				return err
			}
		case "keys_poll_interval":
			var s string
			if err := singleArg(d, &s); err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil || dur <= 0 {
				return d.Errf("keys_poll_interval: invalid duration '%s': use a positive duration such as 500ms", s)
			}
			a.KeysPollInterval = caddy.Duration(dur)
		case "max_key_lifetime":
			var s string
			if err := singleArg(d, &s); err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil || dur <= 0 {
				return d.Errf("max_key_lifetime: invalid duration '%s': use a positive duration such as 365d", s)
			}
			a.MaxKeyLifetime = caddy.Duration(dur)
		case "request_id_header":
			if err := singleArg(d, &a.RequestIDHeader); err != nil {
				return err
			}
			if _, err := resolveRequestIDHeader(a.RequestIDHeader); err != nil {
				return d.Err(err.Error())
			}
		case "audit":
			ac, err := parseAuditBlock(d)
			if err != nil {
				return err
			}
			a.Audit = ac
		default:
			handled, err := a.parseFleetOption(d, name)
			if err != nil {
				return err
			}
			if !handled {
				return d.Errf("unknown awra option '%s': expected redis, keys_file, keys_poll_interval, max_key_lifetime, request_id_header, audit, %s", name, fleetOptions)
			}
		}
	}
	return nil
}

// parseAuditBlock reads:
//
//	audit {
//		stream <key>
//		max_len <entries>
//		spool_dir <dir>
//		chain_key <secret>
//		instance <name>
//		retention <duration>
//		commit_interval <duration>
//		queue_capacity <events>
//		queue_bytes <bytes>
//	}
func parseAuditBlock(d *caddyfile.Dispenser) (*AuditConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	ac := new(AuditConfig)
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if seen[name] {
			return nil, d.Errf("audit: '%s' is set twice; keep one", name)
		}
		seen[name] = true

		var val string
		if err := singleArg(d, &val); err != nil {
			return nil, err
		}
		switch name {
		case "stream":
			ac.Stream = val
		case "spool_dir":
			ac.SpoolDir = val
		case "chain_key":
			ac.ChainKey = val
		case "instance":
			ac.Instance = val
		case "max_len", "queue_capacity", "queue_bytes":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n <= 0 {
				return nil, d.Errf("audit: %s: invalid value '%s': use a positive whole number", name, val)
			}
			switch name {
			case "max_len":
				ac.MaxLen = n
			case "queue_capacity":
				ac.QueueCapacity = int(n)
			default:
				ac.QueueBytes = n
			}
		case "retention":
			dur, err := caddy.ParseDuration(val)
			if err != nil || dur <= 0 {
				return nil, d.Errf("audit: retention: invalid duration '%s': use a positive duration such as 10m", val)
			}
			ac.Retention = caddy.Duration(dur)
		case "commit_interval":
			dur, err := caddy.ParseDuration(val)
			if err != nil || dur < audit.MinCommitInterval || dur > audit.MaxCommitInterval {
				return nil, d.Errf("audit: commit_interval: invalid duration '%s': use a duration from %v to %v, such as 10ms", val, audit.MinCommitInterval, audit.MaxCommitInterval)
			}
			ac.CommitInterval = caddy.Duration(dur)
		default:
			return nil, d.Errf("audit: unknown option '%s': expected stream, max_len, spool_dir, chain_key, instance, retention, commit_interval, queue_capacity or queue_bytes", name)
		}
	}
	return ac, nil
}

// singleArg reads exactly one argument into dst.
func singleArg(d *caddyfile.Dispenser, dst *string) error {
	name := d.Val()
	if !d.NextArg() {
		return d.Errf("'%s' needs a value", name)
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.Errf("'%s' takes one value, got another: '%s'", name, d.Val())
	}
	return nil
}

func parseAPIKey(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(APIKey)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	awra_api_key [<scope>...] {
//		scopes <scope>...
//		header <name>
//	}
func (h *APIKey) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	h.Scopes = append(h.Scopes, d.RemainingArgs()...)

	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		if seen[name] {
			return d.Errf("'%s' is set twice; keep one", name)
		}
		seen[name] = true

		switch name {
		case "scopes":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Errf("'scopes' needs at least one scope such as inventory:read")
			}
			h.Scopes = append(h.Scopes, args...)
		case "header":
			if err := singleArg(d, &h.Header); err != nil {
				return err
			}
		default:
			return d.Errf("unknown awra_api_key option '%s': expected scopes or header", name)
		}
	}
	return nil
}

func parseSignedURL(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(SignedURL)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	awra_signed_url {
//		key <id> <secret>
//		max_ttl <duration>
//		clock_skew <duration>
//		key_id_header <name>|off
//	}
//
// key may be repeated, once per signing key.
func (h *SignedURL) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		if name != "key" && seen[name] {
			return d.Errf("'%s' is set twice; keep one", name)
		}
		seen[name] = true

		switch name {
		case "key":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("'key' takes a key id and a secret, for example: key k2026 {env.AWRA_URL_KEY_2026}")
			}
			h.Keys = append(h.Keys, SigningKey{ID: args[0], Secret: args[1]})
		case "max_ttl", "clock_skew":
			var s string
			if err := singleArg(d, &s); err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil || dur <= 0 {
				return d.Errf("%s: invalid duration '%s': use a positive duration such as 24h", name, s)
			}
			if name == "max_ttl" {
				h.MaxTTL = caddy.Duration(dur)
			} else {
				h.ClockSkew = caddy.Duration(dur)
			}
		case "key_id_header":
			if err := singleArg(d, &h.KeyIDHeader); err != nil {
				return err
			}
			if _, err := resolveForwardHeader("key_id_header", h.KeyIDHeader, awraURLKeyIDHeader, "X-Link-Key-Id"); err != nil {
				return d.Err(err.Error())
			}
		default:
			return d.Errf("unknown awra_signed_url option '%s': expected key, max_ttl, clock_skew or key_id_header", name)
		}
	}
	if len(h.Keys) == 0 {
		return d.Err("awra_signed_url needs at least one 'key <id> <secret>' line")
	}
	return nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*App)(nil)
	_ caddyfile.Unmarshaler = (*APIKey)(nil)
	_ caddyfile.Unmarshaler = (*SignedURL)(nil)
)
