package awra

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy/audit"
)

// AuditConfig configures the audit pipeline: every decision of every awra
// handler, and every key change, goes to a Redis stream through a local
// crash-safe spool, linked into a per-instance HMAC chain.
type AuditConfig struct {
	// Stream is the Redis stream key. Default: awra:audit.
	Stream string `json:"stream,omitempty"`

	// MaxLen caps the stream with approximate trimming, in entries of all
	// instances. Default: 1000000.
	MaxLen int64 `json:"max_len,omitempty"`

	// SpoolDir is the directory of the local spool. Required. Only one
	// gateway process may use a directory at a time.
	SpoolDir string `json:"spool_dir,omitempty"`

	// ChainKey is the HMAC key of the hash chains, at least 16 bytes (32
	// random bytes recommended). Use a placeholder such as
	// {env.AWRA_AUDIT_CHAIN_KEY}; `awragate audit verify` reads the same
	// variable. Required.
	ChainKey string `json:"chain_key,omitempty"`

	// Instance names this gateway in its chains. Default: the host name
	// and a hash of the spool directory.
	Instance string `json:"instance,omitempty"`

	// CommitInterval is the least time between two spool commits. Under
	// load the writer gathers events this long and commits them with one
	// fsync: longer costs less CPU per event, and events wait up to this
	// long before they are on disk. Default: 100ms; at most 1s.
	CommitInterval caddy.Duration `json:"commit_interval,omitempty"`

	// Retention is how long published events stay in the spool so that a
	// Redis failover that loses writes can be repaired. Default: 10m.
	Retention caddy.Duration `json:"retention,omitempty"`

	// QueueCapacity and QueueBytes bound the in-memory queue between
	// requests and the spool writer. A full queue drops events and the
	// writer records a gap event with the count. Defaults: 16384 events
	// and 64 MiB.
	QueueCapacity int   `json:"queue_capacity,omitempty"`
	QueueBytes    int64 `json:"queue_bytes,omitempty"`
}

// auditPipelines shares one pipeline per spool directory across
// configurations: on a reload the new config starts before the old one
// stops, and both write to the same queue, spool and chain.
var auditPipelines = caddy.NewUsagePool()

// auditCloseTimeout bounds the final publish on shutdown; events that
// miss it stay in the spool and are published on the next start.
const auditCloseTimeout = 5 * time.Second

// lazyPipeline is the pool's value: it opens the spool on first use, not
// when a configuration is provisioned, so `awragate validate` and a
// rejected config reload never touch the spool.
type lazyPipeline struct {
	cfg  audit.Config
	once sync.Once
	p    *audit.Pipeline
	err  error
}

// get opens the pipeline once and returns it, or the error of that open.
func (l *lazyPipeline) get() (*audit.Pipeline, error) {
	l.once.Do(func() {
		p, err := audit.Open(l.cfg)
		if err != nil {
			l.err = fmt.Errorf("audit: %w", err)
			return
		}
		l.p = p
	})
	return l.p, l.err
}

// Destruct drains the queue into the spool once no configuration uses the
// pipeline. It runs from Cleanup, after every app of the last
// configuration has stopped, so no request can still be recording.
func (l *lazyPipeline) Destruct() error {
	l.once.Do(func() {}) // a pipeline never opened stays closed
	if l.p == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), auditCloseTimeout)
	defer cancel()
	return l.p.Close(ctx)
}

// auditSetup is the audit configuration after placeholders and defaults.
type auditSetup struct {
	cfg     audit.Config
	poolKey string
	shared  *lazyPipeline
}

// prepareAudit checks the configuration and joins the shared pipeline of
// its spool directory without opening it.
func (a *App) prepareAudit() (*auditSetup, error) {
	ac := a.Audit
	repl := caddy.NewReplacer()

	spoolDir := repl.ReplaceKnown(ac.SpoolDir, "")
	if spoolDir == "" {
		return nil, fmt.Errorf("audit: spool_dir is missing: set it to a writable directory such as ./data/spool")
	}
	abs, err := filepath.Abs(spoolDir)
	if err != nil {
		return nil, fmt.Errorf("audit: spool_dir '%s': %w", spoolDir, err)
	}

	chainKey := repl.ReplaceKnown(ac.ChainKey, "")
	if chainKey == "" {
		return nil, fmt.Errorf("audit: chain_key is empty after placeholder replacement: set it, for example chain_key {env.AWRA_AUDIT_CHAIN_KEY}, and export 32 random bytes in that variable")
	}
	if len(chainKey) < 16 {
		return nil, fmt.Errorf("audit: chain_key is %d bytes: use at least 16, and 32 random bytes are recommended", len(chainKey))
	}

	setup := &auditSetup{
		poolKey: abs,
		cfg: audit.Config{
			RedisURL:       a.redisURL,
			Stream:         repl.ReplaceKnown(ac.Stream, ""),
			MaxLen:         ac.MaxLen,
			SpoolDir:       abs,
			ChainKey:       []byte(chainKey),
			Instance:       repl.ReplaceKnown(ac.Instance, ""),
			Retention:      time.Duration(ac.Retention),
			CommitInterval: time.Duration(ac.CommitInterval),
			QueueCapacity:  ac.QueueCapacity,
			QueueBytes:     ac.QueueBytes,
			Logger:         a.logger.Named("audit"),
		},
	}

	val, loaded, err := auditPipelines.LoadOrNew(abs, func() (caddy.Destructor, error) {
		return &lazyPipeline{cfg: setup.cfg}, nil
	})
	if err != nil {
		return nil, err
	}
	setup.shared = val.(*lazyPipeline)
	if loaded && !sameAuditSettings(setup.shared.cfg, setup.cfg) {
		// One spool directory has one pipeline; the running one keeps its
		// settings until the process restarts.
		a.logger.Warn("audit settings changed on reload; they take effect after a restart",
			zap.String("spool_dir", abs))
	}
	return setup, nil
}

// sameAuditSettings compares the settings that a shared pipeline fixes
// when it opens.
func sameAuditSettings(a, b audit.Config) bool {
	return a.RedisURL == b.RedisURL && a.Stream == b.Stream && a.MaxLen == b.MaxLen &&
		string(a.ChainKey) == string(b.ChainKey) && a.Instance == b.Instance &&
		a.Retention == b.Retention && a.QueueCapacity == b.QueueCapacity && a.QueueBytes == b.QueueBytes &&
		a.CommitInterval == b.CommitInterval
}

// startAudit opens the shared pipeline, or joins the one an earlier
// configuration opened.
func (a *App) startAudit() error {
	if a.auditSetup == nil {
		return nil
	}
	p, err := a.auditSetup.shared.get()
	if err != nil {
		return err
	}
	a.pipeline.Store(p)
	if a.keys != nil {
		a.keys.setAudit(p)
	}
	return nil
}

// releaseAudit gives up this configuration's hold on the pipeline. It runs
// in Cleanup, after the HTTP servers of this configuration have shut down,
// because Caddy starts and stops apps in no fixed order: a release in Stop
// could close the pipeline while requests are still being served.
func (a *App) releaseAudit() error {
	if a.auditSetup == nil {
		return nil
	}
	_, err := auditPipelines.Delete(a.auditSetup.poolKey)
	a.auditSetup = nil
	return err
}

// auditRecorder turns decisions into audit events. The pipeline's Enqueue
// does not block: it drops the event and counts it when the queue is full.
// The one wait is the first request served before the awra app started,
// which opens the spool itself.
type auditRecorder struct {
	pipeline *atomic.Pointer[audit.Pipeline]
	shared   *lazyPipeline // opens the pipeline if a request comes before Start
	log      logRecorder
}

// begin announces d to the pipeline, which then declares it dropped if
// it closes before d is recorded.
func (ar auditRecorder) begin(d *decision) {
	// A pipeline that cannot open is counted once, by record.
	if p, err := ar.load(); err == nil && p.Begin() {
		d.begun = p
	}
}

// load returns the pipeline, opening the shared one if the HTTP app serves
// before the awra app has started.
func (ar auditRecorder) load() (*audit.Pipeline, error) {
	if p := ar.pipeline.Load(); p != nil {
		return p, nil
	}
	p, err := ar.shared.get()
	if err != nil {
		return nil, err
	}
	ar.pipeline.CompareAndSwap(nil, p)
	return p, nil
}

func (ar auditRecorder) record(d *decision) {
	countDecision(d)
	ar.log.recordAt(d, zap.DebugLevel)

	p := d.begun
	if p == nil {
		var err error
		if p, err = ar.load(); err != nil {
			auditOpenFailures.Inc()
			return
		}
	}
	ev := audit.NewEvent()
	ev.TS = d.start
	ev.RequestID = d.id()
	ev.Module = audit.Module(d.module)
	ev.Decision = audit.DecisionDeny
	if d.allow {
		ev.Decision = audit.DecisionAllow
	}
	ev.Reason = d.reason
	ev.Status = d.status
	ev.KeyID = d.keyID
	ev.ClientIP = addrString(d.clientIP)
	ev.PeerIP = ev.ClientIP
	if d.peerIP != d.clientIP {
		// Behind a trusted proxy the two differ; otherwise one string
		// serves both.
		ev.PeerIP = addrString(d.peerIP)
	}
	ev.Method = d.method
	ev.Host = d.host
	ev.Path = d.path
	ev.Scopes = d.scopes
	ev.Provider = d.provider
	ev.LatencyUS = d.decisionLatency().Microseconds()
	ev.Detail = d.detail
	if ev.Detail == "" && d.eventID != "" {
		ev.Detail = "event_id=" + d.eventID
	}
	if d.begun != nil {
		d.begun = nil
		p.Finish(ev)
		return
	}
	p.Enqueue(ev)
}
