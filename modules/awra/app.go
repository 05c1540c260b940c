// Package awra holds awragate's Caddy modules: the awra app, which owns the
// shared state (key registry, audit pipeline, fleet state in Redis,
// alerts), and the HTTP handlers that
// enforce API keys, signed URLs and webhook signatures. The handlers are
// thin: they read the request, call package policy, and write the result.
package awra

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the awra app: the state that awragate's handlers share within one
// configuration. Heavy resources (the watched key registry) are shared
// across config reloads through usage pools, so a reload neither reopens
// them nor loses their state.
type App struct {
	// Redis is the URL of the Redis server used for the audit stream and
	// fleet-wide state, for example redis://127.0.0.1:6379/0. Empty means
	// no Redis.
	Redis string `json:"redis,omitempty"`

	// KeysFile is the path of the JSON key registry. The file is watched
	// and reloaded on change; a broken file is rejected with an error and
	// the last good registry keeps serving. Required by awra_api_key.
	KeysFile string `json:"keys_file,omitempty"`

	// KeysPollInterval is how often the keys file is checked for changes.
	// Default: 500ms. A change takes effect within about one interval.
	KeysPollInterval caddy.Duration `json:"keys_poll_interval,omitempty"`

	// MaxKeyLifetime is the longest time from a key's creation to its
	// expiry that the security review accepts (`awragate review`). The
	// gateway itself does not enforce it. Default: 365d.
	MaxKeyLifetime caddy.Duration `json:"max_key_lifetime,omitempty"`

	// Audit turns on the audit pipeline. Without it, decisions are only
	// logged: denials at Info, allows at Debug.
	Audit *AuditConfig `json:"audit,omitempty"`

	// Instance names this gateway in alerts and quarantine records.
	// Default: the audit instance when set, else the host name.
	Instance string `json:"instance,omitempty"`

	// Instances is the number of gateway instances that share the rate
	// limits in Redis. While Redis cannot be reached, each instance
	// enforces every key's limit divided by Instances (the burst rounded
	// down, at least 1), so the fleet stays near the limit instead of
	// admitting Instances times it. Default: 1.
	Instances int `json:"instances,omitempty"`

	// RateLimitStore selects where key rate limits are counted. "local"
	// (default) keeps a token bucket per key in each instance. "redis"
	// keeps one bucket per key that every instance shares, at the cost of
	// one Redis round trip for each request of a key with a limit, and
	// needs the redis option.
	RateLimitStore string `json:"rate_limit_store,omitempty"`

	// RateLimitTimeout bounds the Redis call of a request under a shared
	// limit; on timeout or error the local fallback decides. Default:
	// 50ms.
	RateLimitTimeout caddy.Duration `json:"rate_limit_timeout,omitempty"`

	// KeysStore selects the key registry: "file" (default), the keys_file,
	// or "redis", the fleet registry that 'awragate keys --redis' edits.
	// "redis" needs the redis option and excludes keys_file.
	KeysStore string `json:"keys_store,omitempty"`

	// KeysCacheTTL bounds how late a change of the fleet registry takes
	// effect on an instance that missed its pub/sub message. Default: 5s.
	KeysCacheTTL caddy.Duration `json:"keys_cache_ttl,omitempty"`

	// Alerts turns on security alerts and, with quarantine_after, key
	// quarantine.
	Alerts *AlertsConfig `json:"alerts,omitempty"`

	// RequestIDHeader names the header that carries the request id to the
	// upstream of an allowed request, the id that the audit trail and
	// denials also carry, for example X-Request-Id or X-Awra-Request-Id.
	// A header of that name sent by the client is replaced. Empty or
	// "off", the default, sends none.
	RequestIDHeader string `json:"request_id_header,omitempty"`

	keys       *keyStore
	fleetKeys  *fleetKeyStore // keys_store redis
	redisURL   string         // after placeholder replacement
	redis      *redis.Client
	instance   string
	auditSetup *auditSetup
	pipeline   *atomic.Pointer[audit.Pipeline] // set in Provision; nil until Start
	limits     *keyLimits
	limitPool  string // rateLimitClients key, empty without a shared limit
	quarantine *quarantineSet
	alertSetup *alertSetup
	notifier   *atomic.Pointer[sharedNotifier] // set in Provision; holds nil until Start
	poolKeys   struct{ fleetKeys, quarantine string }
	idHeader   string // RequestIDHeader resolved; empty when off
	logger     *zap.Logger
}

// Key registries, the values of the keys_store option.
const (
	keysStoreFile  = "file"
	keysStoreRedis = "redis"
)

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "awra",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision loads the key registry, or joins the one that an earlier
// configuration with the same keys file already watches.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.pipeline = new(atomic.Pointer[audit.Pipeline])
	a.notifier = new(atomic.Pointer[sharedNotifier])
	routeRedisLogs(a.logger)

	repl := caddy.NewReplacer()
	if a.Redis != "" {
		a.redisURL = repl.ReplaceKnown(a.Redis, "")
		client, err := openRedis(a.redisURL)
		if err != nil {
			return err
		}
		a.redis = client
	}

	idHeader, err := resolveRequestIDHeader(a.RequestIDHeader)
	if err != nil {
		return err
	}
	a.idHeader = idHeader

	a.instance = a.instanceName(repl)
	if err := a.provisionFleetChecks(); err != nil {
		return err
	}

	if a.KeysFile != "" {
		path, err := filepath.Abs(repl.ReplaceKnown(a.KeysFile, ""))
		if err != nil {
			return fmt.Errorf("keys_file '%s': %w", a.KeysFile, err)
		}
		ks, err := openKeyStore(path, a.pollInterval(), a.logger)
		if err != nil {
			return err
		}
		a.keys = ks
	}
	if err := a.provisionFleet(); err != nil {
		return err
	}

	collectors := []prometheus.Collector{decisionsTotal, rateLimitChecksVec, rateLimitedVec, newFleetCollector(a)}
	if a.Audit != nil {
		setup, err := a.prepareAudit()
		if err != nil {
			return err
		}
		a.auditSetup = setup
		collectors = append(collectors, newAuditCollector(a.pipeline))
	}
	if a.Alerts != nil {
		setup, err := a.prepareAlerts()
		if err != nil {
			return err
		}
		a.alertSetup = setup
	}
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		if err := registerMetrics(reg, collectors...); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	return nil
}

func (a *App) pollInterval() caddy.Duration {
	if a.KeysPollInterval > 0 {
		return a.KeysPollInterval
	}
	return caddy.Duration(defaultKeysPollInterval)
}

// Validate checks settings that Provision does not already enforce.
func (a *App) Validate() error {
	if a.KeysPollInterval < 0 {
		return fmt.Errorf("keys_poll_interval: invalid value %s: use a positive duration such as 500ms", time.Duration(a.KeysPollInterval))
	}
	if a.RateLimitTimeout < 0 || a.KeysCacheTTL < 0 {
		return fmt.Errorf("rate_limit_timeout and keys_cache_ttl must be positive durations")
	}
	return nil
}

// Start opens the audit pipeline and starts the alert worker. It runs
// only when the configuration serves, never under `awragate validate`,
// so validating a configuration neither touches the spool of a running
// gateway nor sends alerts.
func (a *App) Start() error {
	if err := a.startAudit(); err != nil {
		return err
	}
	if p := a.pipeline.Load(); p != nil {
		if a.fleetKeys != nil {
			a.fleetKeys.setAudit(p)
		}
		if a.quarantine != nil {
			a.quarantine.audit.Store(p)
		}
	}
	return a.startAlerts()
}

// Stop implements caddy.App. The alert worker and the audit pipeline are
// released in Cleanup, which runs after every app of the configuration has
// stopped: Caddy stops apps in no fixed order, and the HTTP servers may
// still be serving requests when this Stop runs.
func (a *App) Stop() error { return nil }

// Cleanup releases this configuration's hold on the shared resources: the
// alert worker first, then the audit pipeline, so that the worker's last
// alerts still reach the audit trail. The last configuration to release
// the pipeline drains its queue into the spool.
func (a *App) Cleanup() error {
	// Release everything even when one release fails, and report all.
	errs := []error{a.stopAlerts(), a.releaseAudit(), a.cleanupFleet()}
	if a.redis != nil {
		errs = append(errs, releaseRedis(a.redisURL))
		a.redis = nil
	}
	if a.keys != nil {
		errs = append(errs, a.keys.release())
		a.keys = nil
	}
	return errors.Join(errs...)
}

// RedisClient returns the app's shared Redis client, or nil when the app
// has no redis option. The client connects lazily and may be down.
func (a *App) RedisClient() *redis.Client { return a.redis }

// Registry returns the current key registry, or nil when the app has
// neither a keys file nor keys_store redis.
func (a *App) Registry() *policy.Registry {
	switch {
	case a.keys != nil:
		return a.keys.current()
	case a.fleetKeys != nil:
		return a.fleetKeys.current()
	}
	return nil
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)

// recorderFor returns where a handler's decisions go: the audit pipeline
// when one is configured, else the handler's log.
func (a *App) recorderFor(logger *zap.Logger) decisionRecorder {
	if a.Audit != nil {
		return auditRecorder{pipeline: a.pipeline, shared: a.auditSetup.shared, log: logRecorder{logger: logger}}
	}
	return logRecorder{logger: logger}
}
