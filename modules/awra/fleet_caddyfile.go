package awra

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// fleetOptions are the awra options parsed by parseFleetOption.
const fleetOptions = "instance, instances, rate_limit_store, rate_limit_timeout, keys_store, keys_cache_ttl or alerts"

// parseFleetOption reads one of the fleet options of the awra global
// option:
//
//	instance <name>
//	instances <count>
//	rate_limit_store local|redis
//	rate_limit_timeout <duration>
//	keys_store file|redis
//	keys_cache_ttl <duration>
//	alerts { ... }
//
// It reports false when name is not a fleet option.
func (a *App) parseFleetOption(d *caddyfile.Dispenser, name string) (bool, error) {
	switch name {
	case "instance":
		return true, singleArg(d, &a.Instance)
	case "instances":
		n, err := positiveIntArg(d, 10000)
		a.Instances = n
		return true, err
	case "rate_limit_store":
		return true, choiceArg(d, &a.RateLimitStore, rateLimitStoreLocal, rateLimitStoreRedis)
	case "keys_store":
		return true, choiceArg(d, &a.KeysStore, keysStoreFile, keysStoreRedis)
	case "rate_limit_timeout":
		dur, err := fleetDurationArg(d)
		a.RateLimitTimeout = dur
		return true, err
	case "keys_cache_ttl":
		dur, err := fleetDurationArg(d)
		a.KeysCacheTTL = dur
		return true, err
	case "alerts":
		ac, err := parseAlertsBlock(d)
		a.Alerts = ac
		return true, err
	}
	return false, nil
}

// parseAlertsBlock reads:
//
//	alerts {
//		webhook <url> {
//			secret <secret>
//			timeout <duration>
//		}
//		redis_channel <channel>
//		cooldown <duration>
//		group_wait <duration>
//		max_attempts <count>
//		backoff <min> <max>
//		dead_letter_stream <stream>
//		queue_size <count>
//		quarantine_after <denials> <window>
//	}
func parseAlertsBlock(d *caddyfile.Dispenser) (*AlertsConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	ac := new(AlertsConfig)
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if seen[name] {
			return nil, d.Errf("alerts: '%s' is set twice; keep one", name)
		}
		seen[name] = true

		var err error
		switch name {
		case "webhook":
			ac.Webhook, err = parseAlertWebhook(d)
		case "redis_channel":
			err = singleArg(d, &ac.RedisChannel)
		case "dead_letter_stream":
			err = singleArg(d, &ac.DeadLetterStream)
		case "cooldown":
			ac.Cooldown, err = fleetDurationArg(d)
		case "group_wait":
			ac.GroupWait, err = fleetDurationArg(d)
		case "max_attempts":
			ac.MaxAttempts, err = positiveIntArg(d, maxAlertAttempts)
		case "queue_size":
			ac.QueueSize, err = positiveIntArg(d, 1<<20)
		case "backoff":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.Err("alerts: 'backoff' takes a minimum and a maximum duration, for example: backoff 1s 1m")
			}
			if ac.MinBackoff, err = parseDuration(d, "backoff", args[0]); err == nil {
				ac.MaxBackoff, err = parseDuration(d, "backoff", args[1])
			}
		case "quarantine_after":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.Err("alerts: 'quarantine_after' takes a number of denials and a window, for example: quarantine_after 5 10m")
			}
			n, convErr := strconv.Atoi(args[0])
			if convErr != nil || n < 1 || n > maxQuarantineDenials {
				return nil, d.Errf("alerts: quarantine_after: invalid count '%s': use 1 to %d denials", args[0], maxQuarantineDenials)
			}
			window, durErr := parseDuration(d, "quarantine_after", args[1])
			if durErr != nil {
				return nil, durErr
			}
			ac.QuarantineAfter = &QuarantineRule{Denials: n, Window: window}
		default:
			return nil, d.Errf("alerts: unknown option '%s': expected webhook, redis_channel, cooldown, group_wait, max_attempts, backoff, dead_letter_stream, queue_size or quarantine_after", name)
		}
		if err != nil {
			return nil, err
		}
	}
	return ac, nil
}

// parseAlertWebhook reads "webhook <url> { secret <secret>; timeout <d> }".
func parseAlertWebhook(d *caddyfile.Dispenser) (*AlertWebhook, error) {
	if !d.NextArg() {
		return nil, d.Err("alerts: 'webhook' needs a URL, for example: webhook https://siem.example.com/hooks/awra { secret {env.AWRA_ALERT_SECRET} }")
	}
	wh := &AlertWebhook{URL: d.Val()}
	if d.NextArg() {
		return nil, d.Errf("alerts: 'webhook' takes one URL, got another: '%s'", d.Val())
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if seen[name] {
			return nil, d.Errf("alerts: webhook: '%s' is set twice; keep one", name)
		}
		seen[name] = true
		switch name {
		case "secret":
			if err := singleArg(d, &wh.Secret); err != nil {
				return nil, err
			}
		case "timeout":
			dur, err := fleetDurationArg(d)
			if err != nil {
				return nil, err
			}
			wh.Timeout = dur
		default:
			return nil, d.Errf("alerts: webhook: unknown option '%s': expected secret or timeout", name)
		}
	}
	if wh.Secret == "" {
		return nil, d.Err("alerts: webhook needs a secret: add { secret {env.AWRA_ALERT_SECRET} }")
	}
	return wh, nil
}

// fleetDurationArg reads exactly one positive duration.
func fleetDurationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	var s string
	if err := singleArg(d, &s); err != nil {
		return 0, err
	}
	return parseDuration(d, name, s)
}

func parseDuration(d *caddyfile.Dispenser, name, s string) (caddy.Duration, error) {
	dur, err := caddy.ParseDuration(s)
	if err != nil || dur <= 0 {
		return 0, d.Errf("%s: invalid duration '%s': use a positive duration such as 10m", name, s)
	}
	return caddy.Duration(dur), nil
}

// positiveIntArg reads exactly one whole number from 1 to limit.
func positiveIntArg(d *caddyfile.Dispenser, limit int) (int, error) {
	name := d.Val()
	var s string
	if err := singleArg(d, &s); err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > limit {
		return 0, d.Errf("%s: invalid value '%s': use a whole number from 1 to %d", name, s, limit)
	}
	return n, nil
}

// choiceArg reads exactly one of the allowed words.
func choiceArg(d *caddyfile.Dispenser, dst *string, allowed ...string) error {
	name := d.Val()
	var s string
	if err := singleArg(d, &s); err != nil {
		return err
	}
	for _, a := range allowed {
		if s == a {
			*dst = s
			return nil
		}
	}
	return d.Errf("%s: invalid value '%s': use %s", name, s, strings.Join(allowed, " or "))
}
