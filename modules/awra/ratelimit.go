package awra

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/ratelimit"
)

// Rate limit stores, the values of the rate_limit_store option.
const (
	rateLimitStoreLocal = "local"
	rateLimitStoreRedis = "redis"
)

// defaultRateLimitTimeout bounds the Redis call of a rate-limited request.
// A loopback or same-zone Redis responds in well under a millisecond, so
// this only cuts off a stalled server.
const defaultRateLimitTimeout = 50 * time.Millisecond

// rateLimitClients shares one Redis client per server and timeout for the
// shared rate limit. It is separate from the app's client because its
// timeouts must be short: a request waits for it.
var rateLimitClients = caddy.NewUsagePool()

type sharedLimitClient struct {
	*redis.Client
}

// Destruct closes the client once no configuration uses it.
func (c sharedLimitClient) Destruct() error { return c.Close() }

// openRateLimitClient returns the shared short-timeout client for url.
func openRateLimitClient(url string, timeout time.Duration) (*redis.Client, string, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, "", fmt.Errorf("redis '%s': %w; write it as redis://host:port/db", redactURL(url), err)
	}
	key := fmt.Sprintf("%s|%s|%d|%s|%s", opts.Network, opts.Addr, opts.DB, opts.Username, timeout)
	val, _, err := rateLimitClients.LoadOrNew(key, func() (caddy.Destructor, error) {
		opts.DialTimeout = timeout
		opts.ReadTimeout = timeout
		opts.WriteTimeout = timeout
		opts.PoolTimeout = timeout
		// No retries of commands or dials (go-redis v9 dials 5 times, 100ms
		// apart, by default): a failed call falls back at once.
		opts.MaxRetries = -1
		opts.DialerRetries = 1
		opts.ContextTimeoutEnabled = true
		return sharedLimitClient{redis.NewClient(opts)}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return val.(sharedLimitClient).Client, key, nil
}

// keyLimits enforces the rate limits of API keys: each key's local bucket,
// or with rate_limit_store redis the bucket every instance shares, with
// the local fallback of ratelimit.Shared.
type keyLimits struct {
	shared *ratelimit.Shared // nil: local buckets

	// policies caches the RateLimit-Policy value of each limit, which
	// only changes with the limit.
	policies sync.Map // ratelimit.Limit -> string
}

// newSharedLimits builds the Redis-backed limits and logs each change of
// Redis state once.
func newSharedLimits(client *redis.Client, instances int, logger *zap.Logger) *keyLimits {
	return &keyLimits{shared: ratelimit.NewShared(ratelimit.SharedConfig{
		Bucket:    ratelimit.NewRedisBucket(client, ""),
		Instances: instances,
		OnStateChange: func(up bool, err error) {
			if up {
				logger.Info("shared rate limits in Redis available again")
				return
			}
			logger.Warn("shared rate limits in Redis unavailable; each instance enforces its share of every key's limit until Redis responds",
				zap.Int("instances", instances), zap.Error(err))
		},
	})}
}

// up reports whether the shared limit works; true without one.
func (l *keyLimits) up() bool { return l == nil || l.shared == nil || l.shared.Up() }

// check takes one request of key k at now. ok is false when k has no
// limit. A nil keyLimits uses the keys' local buckets. It sets the RateLimit-Policy and RateLimit response fields on h,
// for allowed and denied requests alike, and counts the check.
func (l *keyLimits) check(ctx context.Context, h http.Header, k *policy.Key, now time.Time) (res ratelimit.Result, ok bool) {
	if k.Limiter == nil {
		return ratelimit.Result{}, false
	}
	// The key's own bucket holds the limit already parsed.
	limit := ratelimit.Limit{PerSecond: float64(k.Limiter.Limit()), Burst: k.Limiter.Burst()}

	store := storeLocal
	if l == nil || l.shared == nil {
		res = ratelimit.AllowLocal(k.Limiter, now)
	} else {
		var src ratelimit.Source
		res, src = l.shared.Allow(ctx, k.ID, limit, now)
		store = storeRedis
		if src == ratelimit.SourceFallback {
			store = storeFallback
		}
	}
	rateLimitChecks[store].Inc()
	if !res.Allowed {
		rateLimitedTotal[store].Inc()
	}

	// One array backs both values; the capacities keep an append to one
	// field from writing into the other.
	values := make([]string, 2)
	values[0] = l.policyValue(limit)
	values[1] = ratelimit.StatusValue(res)
	h[ratelimit.PolicyHeader] = values[0:1:1]
	h[ratelimit.StatusHeader] = values[1:2:2]
	return res, true
}

// policyValue returns the cached RateLimit-Policy value of limit.
func (l *keyLimits) policyValue(limit ratelimit.Limit) string {
	if l == nil {
		return ratelimit.PolicyValue(limit)
	}
	if v, ok := l.policies.Load(limit); ok {
		return v.(string)
	}
	v := ratelimit.PolicyValue(limit)
	l.policies.Store(limit, v)
	return v
}
