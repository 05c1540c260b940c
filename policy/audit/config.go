package audit

import (
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Defaults of Config.
const (
	DefaultStream         = "awra:audit"
	DefaultMaxLen         = 1_000_000
	DefaultQueueCapacity  = 16384
	DefaultQueueBytes     = 64 << 20
	DefaultBatchSize      = 128
	DefaultSpoolBatch     = 8192
	DefaultCommitInterval = 100 * time.Millisecond
	DefaultRetention      = 10 * time.Minute
	DefaultRedisTimeout   = 2 * time.Second
	DefaultMinBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
	DefaultPollInterval   = time.Second
	DefaultLockTimeout    = time.Second
)

// The range of Config.CommitInterval, which the Caddyfile parser checks
// too. The upper bound keeps events on disk within a second.
const (
	MinCommitInterval = time.Millisecond
	MaxCommitInterval = time.Second
)

// SpoolFileName is the name of the spool database inside Config.SpoolDir.
const SpoolFileName = "audit.db"

// WatermarkSuffix is appended to the stream name to form the key of the
// Redis hash that maps each instance to the highest seq in the stream.
const WatermarkSuffix = ":watermark"

// Config configures a Pipeline. The zero value of every field except
// SpoolDir and ChainKey selects its default.
type Config struct {
	// RedisURL is the Redis server the stream lives on, as a redis:// or
	// rediss:// URL. Empty with a nil Client means spool only: events are
	// kept on local disk and never deleted, so the spool grows without
	// bound.
	RedisURL string

	// Client, when set, is used instead of RedisURL and is not closed by
	// the pipeline. A client made from RedisURL has go-redis retries
	// turned off and RedisTimeout for dialing, reads and writes; the
	// publisher retries with its own backoff. A shared client's retries
	// are harmless because publishing is idempotent.
	Client redis.UniversalClient

	// Stream is the Redis stream key. Default "awra:audit".
	Stream string

	// MaxLen caps the stream length with approximate trimming (XADD MAXLEN
	// ~), counted in entries of all instances. Default 1,000,000.
	MaxLen int64

	// SpoolDir is the directory of the spool file; it is created with mode
	// 0700 if missing. Required. Only one Pipeline may use a directory at
	// a time.
	SpoolDir string

	// ChainKey is the HMAC-SHA256 key of the hash chains: at least 16 bytes,
	// 32 random bytes recommended. Required. It is never logged.
	ChainKey []byte

	// QueueCapacity is the maximum number of events waiting for the
	// writer. Default 16384, a second of a gateway that serves 16,000
	// requests a second. The garbage collector reads every slot of the
	// queue in each cycle, full or empty, so a larger queue adds work to
	// every cycle even while it is empty.
	QueueCapacity int

	// QueueBytes is the maximum approximate memory of the events waiting
	// for the writer, in bytes. Default 64 MiB.
	QueueBytes int64

	// BatchSize is the maximum number of events per Redis round trip.
	// Each round trip is one call of the publish script, and Redis serves
	// no other client while a script runs: about 5 µs per event on the
	// bench machine, so 0.6 ms for 128 events. Rate limit counters and key
	// lookups that share the Redis wait behind it. Default 128.
	BatchSize int

	// SpoolBatchSize is the maximum number of events per spool transaction.
	// Each transaction waits for the disk (bbolt syncs twice per commit),
	// so under load the writer commits whatever queued up meanwhile, up to
	// this many. Default 8192.
	SpoolBatchSize int

	// CommitInterval is the least time from the start of one spool commit
	// to the next. Each commit waits for the disk, and its cost barely
	// depends on how many events it holds, so under load the writer lets
	// events gather this long and commits them together. A longer interval
	// costs less CPU per event, and an event waits up to this long before
	// it is on disk. A crash loses the events not yet committed, and the
	// next start declares that with an unclean_restart event. An event
	// that arrives after a quiet spell is committed at once. Default 100
	// ms, the journal commit interval MongoDB uses by default; at most 1
	// second.
	//
	// Under load each commit's fdatasync takes 1 to 3 ms. With GOMAXPROCS
	// 1 no request runs meanwhile, unless Go's monitor thread moves the
	// blocked P to another thread first. At 25 ms a gateway on one CPU kept 2 to 3 points less
	// of plain Caddy's throughput than at 100 ms (bench/RESULTS.md).
	CommitInterval time.Duration

	// Retention is how long published events stay in the spool, so that
	// entries a Redis failover lost in that window can be sent again.
	// Default 10 minutes.
	Retention time.Duration

	// Instance names this gateway in its chains. Default: the host name
	// and a short hash of the absolute spool directory. A new spool file
	// appends a random epoch ("-" and 8 hex digits) and stores the result,
	// which stays the chain's instance id for the life of that file.
	Instance string

	// Logger receives state changes and errors. Default: no logging.
	Logger *zap.Logger

	// Now is the pipeline clock. Default time.Now.
	Now func() time.Time

	// RedisTimeout bounds dialing, each read and write, and each publish
	// round trip. Default 2 seconds.
	RedisTimeout time.Duration

	// MinBackoff and MaxBackoff bound the jittered, doubling delay between
	// publish attempts while Redis fails. Defaults 100 ms and 5 s.
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// PollInterval is how often the publisher looks for work when the
	// writer has not signalled any, and how often the writer checks for
	// undeclared drops. It is also the least time between two
	// events_dropped gap events. Default 1 second.
	PollInterval time.Duration

	// LockTimeout is how long Open waits for the spool file lock held by
	// another process before it fails. Default 1 second.
	LockTimeout time.Duration
}

// withDefaults returns c with defaults filled in, or an error naming the
// first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.SpoolDir == "" {
		return c, errors.New("missing audit spool_dir: set it to a writable directory")
	}
	if err := checkChainKey(c.ChainKey); err != nil {
		return c, err
	}

	setDefault(&c.Stream, DefaultStream)
	setDefault(&c.MaxLen, DefaultMaxLen)
	setDefault(&c.QueueCapacity, DefaultQueueCapacity)
	setDefault(&c.QueueBytes, DefaultQueueBytes)
	setDefault(&c.BatchSize, DefaultBatchSize)
	setDefault(&c.SpoolBatchSize, DefaultSpoolBatch)
	setDefault(&c.CommitInterval, DefaultCommitInterval)
	setDefault(&c.Retention, DefaultRetention)
	setDefault(&c.RedisTimeout, DefaultRedisTimeout)
	setDefault(&c.MinBackoff, DefaultMinBackoff)
	setDefault(&c.MaxBackoff, DefaultMaxBackoff)
	setDefault(&c.PollInterval, DefaultPollInterval)
	setDefault(&c.LockTimeout, DefaultLockTimeout)
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Now == nil {
		c.Now = time.Now
	}

	switch {
	case c.MaxLen < 0:
		return c, fmt.Errorf("invalid audit max_len %d: set a positive number of entries", c.MaxLen)
	case c.QueueCapacity < 0:
		return c, fmt.Errorf("invalid audit queue capacity %d: set a positive number of events", c.QueueCapacity)
	case c.QueueBytes < 0:
		return c, fmt.Errorf("invalid audit queue byte limit %d: set a positive number of bytes", c.QueueBytes)
	case c.BatchSize < 0:
		return c, fmt.Errorf("invalid audit batch size %d: set a positive number of events", c.BatchSize)
	case c.SpoolBatchSize < 0:
		return c, fmt.Errorf("invalid audit spool batch size %d: set a positive number of events", c.SpoolBatchSize)
	case c.CommitInterval < MinCommitInterval || c.CommitInterval > MaxCommitInterval:
		return c, fmt.Errorf("invalid audit commit interval %v: use a duration from %v to %v", c.CommitInterval, MinCommitInterval, MaxCommitInterval)
	case c.Retention < 0:
		return c, fmt.Errorf("invalid audit retention %v: set a positive duration", c.Retention)
	case c.RedisTimeout < 0, c.MinBackoff < 0, c.PollInterval < 0, c.LockTimeout < 0:
		return c, errors.New("invalid audit timeout or interval: set positive durations")
	case c.MaxBackoff < c.MinBackoff:
		return c, fmt.Errorf("invalid audit max backoff %v: it is below the min backoff %v, so raise it", c.MaxBackoff, c.MinBackoff)
	}
	return c, nil
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}
