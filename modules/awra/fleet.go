package awra

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// instanceName returns the configured instance, the audit instance, or
// the host name.
func (a *App) instanceName(repl *caddy.Replacer) string {
	if a.Instance != "" {
		return repl.ReplaceKnown(a.Instance, "")
	}
	if a.Audit != nil && a.Audit.Instance != "" {
		return repl.ReplaceKnown(a.Audit.Instance, "")
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		return host
	}
	return "awragate"
}

// provisionFleetChecks rejects fleet settings that cannot work together.
func (a *App) provisionFleetChecks() error {
	switch a.RateLimitStore {
	case "", rateLimitStoreLocal:
	case rateLimitStoreRedis:
		if a.redis == nil {
			return fmt.Errorf("rate_limit_store redis needs the redis option of the awra app")
		}
	default:
		return fmt.Errorf("rate_limit_store: invalid value '%s': use local or redis", a.RateLimitStore)
	}

	switch a.KeysStore {
	case "", keysStoreFile:
	case keysStoreRedis:
		if a.redis == nil {
			return fmt.Errorf("keys_store redis needs the redis option of the awra app")
		}
		if a.KeysFile != "" {
			return fmt.Errorf("keys_store redis and keys_file '%s' exclude each other: keep one registry", a.KeysFile)
		}
	default:
		return fmt.Errorf("keys_store: invalid value '%s': use file or redis", a.KeysStore)
	}

	if a.Instances < 0 {
		return fmt.Errorf("instances: invalid value %d: use the number of gateway instances, at least 1", a.Instances)
	}
	return nil
}

// provisionFleet opens the Redis-backed parts the configuration asks for:
// the fleet key registry, the shared rate limits and the quarantine set.
func (a *App) provisionFleet() error {
	a.limits = &keyLimits{}
	usesPubSub := false

	if a.KeysStore == keysStoreRedis {
		ttl := defaultKeysCacheTTL
		if a.KeysCacheTTL > 0 {
			ttl = time.Duration(a.KeysCacheTTL)
		}
		a.poolKeys.fleetKeys = redisIdentity(a.redisURL) + "|" + ttl.String()
		ks, err := openFleetKeyStore(a.poolKeys.fleetKeys, a.redis, ttl, a.logger.Named("keys"))
		if err != nil {
			return err
		}
		a.fleetKeys = ks
		usesPubSub = true
	}

	if a.RateLimitStore == rateLimitStoreRedis {
		timeout := defaultRateLimitTimeout
		if a.RateLimitTimeout > 0 {
			timeout = time.Duration(a.RateLimitTimeout)
		}
		client, key, err := openRateLimitClient(a.redisURL, timeout)
		if err != nil {
			return err
		}
		a.limitPool = key
		a.limits = newSharedLimits(client, max(1, a.Instances), a.logger.Named("ratelimit"))
	}

	if a.Alerts != nil && a.Alerts.QuarantineAfter != nil && a.redis != nil {
		a.poolKeys.quarantine = redisIdentity(a.redisURL)
		q, err := openQuarantineSet(a.poolKeys.quarantine, a.redis, a.logger.Named("quarantine"))
		if err != nil {
			return err
		}
		a.quarantine = q
		usesPubSub = true
	}

	if usesPubSub && pubSubDisabled() {
		a.logger.Warn("fleet pub/sub subscribers disabled by a test-only environment variable; changes reach this instance only through the periodic refresh",
			zap.String("variable", disablePubSubEnv))
	}
	return nil
}

// cleanupFleet releases this configuration's hold on the fleet parts.
func (a *App) cleanupFleet() error {
	if a.fleetKeys != nil {
		if _, err := fleetKeyStores.Delete(a.poolKeys.fleetKeys); err != nil {
			return err
		}
		a.fleetKeys = nil
	}
	if a.quarantine != nil {
		if _, err := quarantineSets.Delete(a.poolKeys.quarantine); err != nil {
			return err
		}
		a.quarantine = nil
	}
	if a.limitPool != "" {
		if _, err := rateLimitClients.Delete(a.limitPool); err != nil {
			return err
		}
		a.limitPool = ""
	}
	return nil
}

// redisIdentity names the Redis database of url for pool keys: network,
// address, database and user, never the password.
func redisIdentity(url string) string {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return url
	}
	return opts.Network + "|" + opts.Addr + "|" + strconv.Itoa(opts.DB) + "|" + opts.Username
}
