// Package awra holds awragate's Caddy modules: the awra app, which owns the
// shared state (key registry, audit pipeline), and the HTTP handlers that
// enforce API keys, signed URLs and webhook signatures. The handlers are
// thin: they read the request, call package policy, and write the result.
package awra

import (
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

	// Audit turns on the audit pipeline. Without it, decisions are only
	// logged: denials at Info, allows at Debug.
	Audit *AuditConfig `json:"audit,omitempty"`

	keys       *keyStore
	redisURL   string // after placeholder replacement
	redis      *redis.Client
	auditSetup *auditSetup
	pipeline   *atomic.Pointer[audit.Pipeline] // set in Provision; nil until Start
	logger     *zap.Logger
}

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

	collectors := []prometheus.Collector{decisionsTotal}
	if a.Audit != nil {
		setup, err := a.prepareAudit()
		if err != nil {
			return err
		}
		a.auditSetup = setup
		collectors = append(collectors, newAuditCollector(a.pipeline))
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
	return nil
}

// Start opens the audit pipeline. It runs only when the configuration
// serves, never under `awragate validate`, so validating a configuration
// does not touch the spool of a running gateway.
func (a *App) Start() error {
	return a.startAudit()
}

// Stop releases the audit pipeline; the last configuration to release it
// drains the queue into the spool.
func (a *App) Stop() error {
	return a.stopAudit()
}

// Cleanup releases this configuration's hold on the shared resources.
func (a *App) Cleanup() error {
	if a.redis != nil {
		if err := releaseRedis(a.redisURL); err != nil {
			return err
		}
		a.redis = nil
	}
	if a.keys != nil {
		if err := a.keys.release(); err != nil {
			return err
		}
		a.keys = nil
	}
	return nil
}

// RedisClient returns the app's shared Redis client, or nil when the app
// has no redis option. The client connects lazily and may be down.
func (a *App) RedisClient() *redis.Client { return a.redis }

// Registry returns the current key registry, or nil when the app has no
// keys file.
func (a *App) Registry() *policy.Registry {
	if a.keys == nil {
		return nil
	}
	return a.keys.current()
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
		return auditRecorder{pipeline: a.pipeline, log: logRecorder{logger: logger}}
	}
	return logRecorder{logger: logger}
}
