package awra

import (
	"math"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("awra_webhook", parseWebhook)
	httpcaddyfile.RegisterDirectiveOrder("awra_webhook", httpcaddyfile.Before, "handle")
}

func parseWebhook(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Webhook)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	awra_webhook [<provider>] {
//		provider <name>
//		secret <secret>
//		tolerance <duration>
//		max_body <size>
//		source_cidrs <cidr>...
//		replay_window <duration>
//		max_deliveries <n>
//
//		# provider hmac only
//		header <name>
//		algorithm sha256|sha512
//		encoding hex|base64
//		prefix <text>
//		timestamp_header <name>
//		id_header <name>
//		template <template>
//	}
//
// secret and source_cidrs may be repeated. max_body takes a size such as
// 1MiB or 512KB.
func (h *Webhook) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		h.Provider = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}

	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		if name != "secret" && name != "source_cidrs" && seen[name] {
			return d.Errf("'%s' is set twice; keep one", name)
		}
		seen[name] = true

		if err := h.unmarshalOption(d, name); err != nil {
			return err
		}
	}
	if h.Provider == "" {
		return d.Err("awra_webhook needs a provider, for example 'provider stripe'")
	}
	if len(h.Secrets) == 0 {
		return d.Err("awra_webhook needs at least one 'secret {env.NAME}' line")
	}
	return nil
}

// unmarshalOption reads the value of the subdirective name.
func (h *Webhook) unmarshalOption(d *caddyfile.Dispenser, name string) error {
	switch name {
	case "provider":
		if h.Provider != "" {
			return d.Errf("the provider is already set to '%s'; keep one", h.Provider)
		}
		return singleArg(d, &h.Provider)
	case "secret":
		var s string
		if err := singleArg(d, &s); err != nil {
			return err
		}
		h.Secrets = append(h.Secrets, s)
	case "source_cidrs":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.Err("'source_cidrs' needs at least one network such as 203.0.113.0/24")
		}
		h.SourceCIDRs = append(h.SourceCIDRs, args...)
	case "tolerance", "replay_window":
		dur, err := durationArg(d)
		if err != nil {
			return err
		}
		if name == "tolerance" {
			h.Tolerance = dur
		} else {
			h.ReplayWindow = dur
		}
	case "max_body":
		var s string
		if err := singleArg(d, &s); err != nil {
			return err
		}
		size, err := humanize.ParseBytes(s)
		if err != nil || size == 0 || size > math.MaxInt64 {
			return d.Errf("max_body: invalid size '%s': use a positive size such as 1MiB or 512KB", s)
		}
		h.MaxBody = int64(size)
	case "max_deliveries":
		var s string
		if err := singleArg(d, &s); err != nil {
			return err
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return d.Errf("max_deliveries: invalid number '%s': use a positive whole number such as 10", s)
		}
		h.MaxDeliveries = n
	case "header":
		return singleArg(d, &h.Header)
	case "algorithm":
		return singleArg(d, &h.Algorithm)
	case "encoding":
		return singleArg(d, &h.Encoding)
	case "prefix":
		return singleArg(d, &h.Prefix)
	case "timestamp_header":
		return singleArg(d, &h.TimestampHeader)
	case "id_header":
		return singleArg(d, &h.IDHeader)
	case "template":
		return singleArg(d, &h.Template)
	default:
		return d.Errf("unknown awra_webhook option '%s': expected provider, secret, tolerance, max_body, source_cidrs, replay_window, max_deliveries, header, algorithm, encoding, prefix, timestamp_header, id_header or template", name)
	}
	return nil
}

// durationArg reads one positive duration argument.
func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	var s string
	if err := singleArg(d, &s); err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil || dur <= 0 {
		return 0, d.Errf("%s: invalid duration '%s': use a positive duration such as 5m", name, s)
	}
	return caddy.Duration(dur), nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Webhook)(nil)
