package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// ErrClosed is returned by Close when the pipeline was already closed.
var ErrClosed = errors.New("audit pipeline is already closed")

// Pipeline carries audit events from request handlers to the Redis stream:
// a bounded in-memory queue, one writer that sequences, chains and spools
// them, and one publisher that sends the spool to Redis in order.
//
// Enqueue, Stats and Instance are safe for concurrent use. Close must be
// called once; it stops the goroutines and releases the spool. A process
// must not open two pipelines on one spool directory: share one Pipeline.
type Pipeline struct {
	cfg        Config
	log        *zap.Logger
	spool      *spool
	client     redis.UniversalClient // nil: spool only
	ownsClient bool
	stream     string
	watermark  string // Redis hash key of per-instance watermarks
	instance   string

	// Hot path state; see Enqueue.
	queue       chan *Event
	queuedBytes atomic.Int64
	inflight    atomic.Int64
	closed      atomic.Bool
	begun       atomic.Int64 // decisions announced by Begin and not yet ended; see begun.go

	// lateMu orders decisions that end after Close against Close's count
	// of the unfinished ones; see endLate.
	lateMu       sync.Mutex
	lateDeclared bool

	counters counters

	// Chain state, guarded by chainMu. The writer and the publisher (for
	// an events_lost note) both append through appendEvents.
	chainMu   sync.Mutex
	lastSeq   uint64
	lastHash  string
	hasher    *chainHasher
	segments  segmentBuilder
	scratch   []byte     // the writer's formatting buffer, see Event.sharedValues
	declared  dropCounts // drops already declared by a gap event
	lastGapAt time.Time

	spoolFailing bool // the writer's last commit failed; only the writer uses it

	startCursor uint64        // publish cursor stored in the spool at Open
	notify      chan struct{} // writer to publisher: new events spooled
	hurry       chan struct{} // Enqueue to writer: the queue is half full
	stopWriter  chan struct{}
	writerDone  chan struct{}
	finalFlush  chan context.Context // Close to publisher: flush, then stop
	pubDone     chan struct{}
	closeCalled atomic.Bool
}

// Open validates cfg, opens or creates the spool in cfg.SpoolDir and
// starts the writer and, when Redis is configured, the publisher. Open does
// not wait for Redis: while Redis is unreachable events stay in the spool.
//
// After an unclean stop Open writes an unclean_restart event. A spool file
// bbolt cannot read is renamed to audit.db.corrupt-<UTC time>, logged at
// Error, and replaced by a new spool whose chain starts with a spool_reset
// event under a new instance id.
func Open(cfg Config) (*Pipeline, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating audit spool_dir '%s': %w", cfg.SpoolDir, err)
	}
	path, err := filepath.Abs(filepath.Join(cfg.SpoolDir, SpoolFileName))
	if err != nil {
		return nil, fmt.Errorf("resolving audit spool_dir '%s': %w", cfg.SpoolDir, err)
	}
	if err := claimSpoolPath(path); err != nil {
		return nil, err
	}

	p, err := open(cfg, path)
	if err != nil {
		releaseSpoolPath(path)
		return nil, err
	}
	return p, nil
}

func open(cfg Config, path string) (*Pipeline, error) {
	client, ownsClient, err := makeRedisClient(cfg)
	if err != nil {
		return nil, err
	}
	name := cfg.Instance
	if name == "" {
		name = defaultInstanceName(cfg.SpoolDir)
	}
	sp, meta, reset, err := openSpool(path, cfg.LockTimeout, cfg.Now(), name)
	if err != nil {
		if ownsClient {
			_ = client.Close()
		}
		return nil, err
	}

	p := &Pipeline{
		cfg:         cfg,
		log:         cfg.Logger,
		spool:       sp,
		client:      client,
		ownsClient:  ownsClient,
		stream:      cfg.Stream,
		watermark:   cfg.Stream + WatermarkSuffix,
		instance:    meta.instance,
		queue:       make(chan *Event, cfg.QueueCapacity),
		lastSeq:     meta.lastSeq,
		lastHash:    meta.lastHash,
		hasher:      newChainHasher(cfg.ChainKey),
		startCursor: meta.cursor,
		notify:      make(chan struct{}, 1),
		hurry:       make(chan struct{}, 1),
		stopWriter:  make(chan struct{}),
		writerDone:  make(chan struct{}),
		finalFlush:  make(chan context.Context, 1),
		pubDone:     make(chan struct{}),
	}
	p.counters.lastSeq.Store(meta.lastSeq)
	p.counters.cursor.Store(meta.cursor)

	if err := p.writeOpenEvents(meta, reset, name); err != nil {
		_ = sp.db.Close()
		if ownsClient {
			_ = client.Close()
		}
		return nil, err
	}

	go p.runWriter()
	if p.client != nil {
		go p.runPublisher()
	} else {
		close(p.pubDone)
	}
	p.log.Info("audit pipeline opened",
		zap.String("instance", p.instance),
		zap.String("spool", path),
		zap.Uint64("last_seq", meta.lastSeq),
		zap.Uint64("publish_cursor", meta.cursor),
		zap.Bool("redis", p.client != nil))
	return p, nil
}

// writeOpenEvents records a spool reset and an unclean restart as the first
// events of this run.
func (p *Pipeline) writeOpenEvents(meta spoolMeta, reset *spoolReset, name string) error {
	var events []*Event
	if reset != nil {
		p.log.Error("audit spool was corrupt; moved it aside and started a new chain",
			zap.String("moved_to", reset.movedTo),
			zap.String("instance", p.instance),
			zap.Error(reset.cause))
		events = append(events, p.noteEvent(ReasonSpoolReset,
			"spool file was unreadable and moved to "+filepath.Base(reset.movedTo)+"; a new chain starts"))
	}
	if meta.running {
		p.log.Warn("audit spool was not closed cleanly; events queued in memory at that time are lost",
			zap.String("instance", p.instance), zap.Uint64("last_seq", meta.lastSeq))
		events = append(events, p.noteEvent(ReasonUncleanRestart,
			fmt.Sprintf("previous run stopped without closing the spool at seq %d", meta.lastSeq)))
	}
	if p.cfg.Instance != "" && !hasInstancePrefix(p.instance, name) {
		p.log.Warn("audit spool keeps its stored instance id; the configured instance applies to a new spool only",
			zap.String("instance", p.instance), zap.String("configured", name))
	}
	if len(events) == 0 {
		return nil
	}
	if err := p.appendEvents(events, declareNone); err != nil {
		return fmt.Errorf("writing audit startup events to spool '%s': %w", p.spool.path, err)
	}
	return nil
}

// makeRedisClient returns the client to publish with: cfg.Client, one made from
// cfg.RedisURL (owned by the pipeline), or nil for spool only.
func makeRedisClient(cfg Config) (client redis.UniversalClient, owned bool, err error) {
	if cfg.Client != nil {
		return cfg.Client, false, nil
	}
	if cfg.RedisURL == "" {
		return nil, false, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		// The URL may hold a password, so it is not quoted.
		return nil, false, fmt.Errorf("parsing the audit redis URL: %w", err)
	}
	// The publisher retries with its own backoff and must see each failure
	// at once, so go-redis retries are off.
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	opts.DialTimeout = cfg.RedisTimeout
	opts.ReadTimeout = cfg.RedisTimeout
	opts.WriteTimeout = cfg.RedisTimeout
	opts.PoolSize = 2
	return redis.NewClient(opts), true, nil
}

// Instance returns the instance id of this pipeline's chain.
func (p *Pipeline) Instance() string {
	return p.instance
}

// Close stops accepting events, drains the queue into the spool, publishes
// what it can before ctx is done, and closes the spool and the Redis client
// it created. Without a deadline in ctx the final publish is tried once.
// Events that are still unpublished stay in the spool for the next Open.
// A second Close returns ErrClosed.
func (p *Pipeline) Close(ctx context.Context) error {
	if !p.closeCalled.CompareAndSwap(false, true) {
		return ErrClosed
	}

	// Decisions announced by Begin get a moment to arrive. Those that do
	// not are counted as dropped and declared by the last gap event.
	p.waitBegun(ctx)

	// Wait for Enqueue calls that passed the closed check, so that no
	// event lands in the queue after the writer's last drain.
	p.closed.Store(true)
	for p.inflight.Load() != 0 {
		time.Sleep(time.Microsecond)
	}
	p.declareUnfinished()

	close(p.stopWriter)
	<-p.writerDone

	if p.client != nil {
		p.finalFlush <- ctx
		<-p.pubDone
	}

	err := p.spool.close()
	if err != nil {
		p.log.Error("closing audit spool", zap.String("spool", p.spool.path), zap.Error(err))
		err = fmt.Errorf("closing audit spool '%s': %w", p.spool.path, err)
	}
	if p.ownsClient {
		_ = p.client.Close()
	}
	releaseSpoolPath(p.spool.path)

	st := p.Stats()
	p.log.Info("audit pipeline closed",
		zap.String("instance", p.instance),
		zap.Uint64("last_seq", st.LastSeq),
		zap.Uint64("unpublished", st.LastSeq-st.PublishedSeq))
	return err
}

func hasInstancePrefix(instance, name string) bool {
	return len(instance) > len(name) && instance[:len(name)] == name && instance[len(name)] == '-'
}
