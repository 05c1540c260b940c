package alert

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults of Config.
const (
	DefaultMaxAttempts  = 8
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = time.Minute
	DefaultQueueSize    = 1024
	DefaultWorkers      = 2
	DefaultRedisTimeout = time.Second
)

// claimRetryDelay is the wait before a failed Claim is tried again.
const claimRetryDelay = time.Second

// Config configures a Notifier. Only Instance is required.
type Config struct {
	// Instance names this gateway in the alerts it sends.
	Instance string

	// Timing sets when a group's alert is sent; see Timing.
	Timing Timing

	// Groups shares groups between instances, normally a RedisGroups.
	// Nil, or a failing call, means groups of this process only.
	Groups Groups

	// Quarantine, when set, counts each API key denial towards the key's
	// quarantine.
	Quarantine Quarantiner

	// QuarantineWindow is reported in quarantine alerts.
	QuarantineWindow time.Duration

	// Webhook, when set, receives every alert with retries; alerts that
	// still fail after MaxAttempts go to DeadLetter.
	Webhook *WebhookSender

	// Channel, when set, receives every alert once.
	Channel Publisher

	// DeadLetter, when set, keeps alerts whose webhook delivery failed
	// for good. Without it such alerts are only logged and counted.
	DeadLetter DeadLetter

	// MaxAttempts is the number of webhook delivery attempts per alert.
	// Default 8.
	MaxAttempts int

	// MinBackoff and MaxBackoff bound the wait between attempts; see
	// Backoff. Defaults 1s and 1m.
	MinBackoff, MaxBackoff time.Duration

	// QueueSize bounds the reports waiting for the worker and, again,
	// the alerts waiting for delivery. A full queue drops the report or
	// alert and counts it. Default 1024.
	QueueSize int

	// Workers is the number of alerts delivered at once. Default 2.
	Workers int

	// RedisTimeout bounds each call to Groups, Quarantine, Channel and
	// DeadLetter. Default 1s.
	RedisTimeout time.Duration

	// Logger receives retries, failures and Redis state changes. Nil
	// means no logs.
	Logger *zap.Logger

	// OnAlert, when set, is called for every alert before its delivery,
	// from the Notifier's goroutine. The gateway records it in the audit
	// trail.
	OnAlert func(a *Alert)

	// OnQuarantine, when set, is called when this instance quarantined a
	// key, before the quarantine alert is sent.
	OnQuarantine func(keyID string, res QuarantineResult)

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time

	// Jitter returns a number in [0, 1) for Backoff. Nil means
	// math/rand/v2.Float64.
	Jitter func() float64
}

// Stats are the Notifier's counters since it was created.
type Stats struct {
	Reported          uint64 // bypass reports accepted
	ReportsDropped    uint64 // reports dropped: queue full or notifier closed
	GroupErrors       uint64 // shared group calls that failed and used local groups
	Alerts            uint64 // alerts created
	AlertsDropped     uint64 // alerts dropped: delivery queue full
	Delivered         uint64 // alerts the webhook accepted
	FailedAttempts    uint64 // webhook attempts that failed
	DeadLettered      uint64 // alerts added to the dead-letter stream
	DeadLetterErrors  uint64 // alerts that could not even be dead-lettered
	Published         uint64 // alerts published on the channel
	PublishErrors     uint64 // channel publishes that failed
	Quarantined       uint64 // keys this instance quarantined
	QuarantineErrors  uint64 // quarantine counts that failed
	GroupsWaiting     int    // groups whose alert this instance will claim
	DeliveriesWaiting int    // alerts waiting for a delivery worker
}

// Notifier turns bypass reports into alerts and delivers them in the
// background. Report never blocks. Start the Notifier with Start and stop
// it with Close; it is safe for concurrent use.
type Notifier struct {
	cfg    Config
	memory *MemoryGroups
	log    *zap.Logger

	in  chan Bypass
	out chan *delivery

	closed           atomic.Bool
	deadLetterFailed atomic.Bool // the last DeadLetter.Add failed
	stop             chan struct{}
	aggDone          chan struct{}
	workers          sync.WaitGroup
	sendCtx          context.Context
	cancelSend       context.CancelFunc

	// Owned by the aggregator goroutine.
	pending       map[pendingKey]pendingClaim
	sharedGroupUp bool
	quarantineUp  bool

	stats struct {
		reported, reportsDropped, groupErrors, alerts, alertsDropped atomic.Uint64
		delivered, failedAttempts, deadLettered, deadLetterErrors    atomic.Uint64
		published, publishErrors, quarantined, quarantineErrors      atomic.Uint64
		groupsWaiting                                                atomic.Int64
	}
}

type pendingKey struct {
	group  Group
	shared bool // claimed from Config.Groups rather than the local groups
}

type pendingClaim struct {
	due   time.Time
	tries int
}

type delivery struct {
	alert *Alert
	body  []byte
}

// New returns a Notifier for cfg with defaults applied. It starts nothing.
func New(cfg Config) *Notifier {
	cfg.Timing = cfg.Timing.WithDefaults()
	if cfg.MaxAttempts < 1 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}

	if cfg.QueueSize < 1 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Workers < 1 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.RedisTimeout <= 0 {
		cfg.RedisTimeout = DefaultRedisTimeout
	}

	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = rand.Float64
	}

	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	sendCtx, cancel := context.WithCancel(context.Background())
	return &Notifier{
		cfg:           cfg,
		memory:        NewMemoryGroups(cfg.Timing, 0),
		log:           log,
		in:            make(chan Bypass, cfg.QueueSize),
		out:           make(chan *delivery, cfg.QueueSize),
		stop:          make(chan struct{}),
		aggDone:       make(chan struct{}),
		sendCtx:       sendCtx,
		cancelSend:    cancel,
		pending:       make(map[pendingKey]pendingClaim),
		sharedGroupUp: true,
		quarantineUp:  true,
	}
}

// Start runs the grouping goroutine and the delivery workers.
func (n *Notifier) Start() {
	go n.aggregate()
	for range n.cfg.Workers {
		n.workers.Add(1)
		go func() {
			defer n.workers.Done()
			for d := range n.out {
				n.deliver(d)
			}
		}()
	}
}

// Report hands b to the Notifier without blocking. It returns false, and
// counts the drop, when the queue is full or the Notifier is closed.
func (n *Notifier) Report(b Bypass) bool {
	if n.closed.Load() {
		n.stats.reportsDropped.Add(1)
		return false
	}
	select {
	case n.in <- b:
		n.stats.reported.Add(1)
		return true
	default:
		n.stats.reportsDropped.Add(1)
		return false
	}
}

// Close stops accepting reports, claims every group this instance is
// waiting for at once, and gives each alert not yet delivered one more
// attempt before it goes to the dead-letter stream. When ctx ends first,
// attempts under way are canceled and Close returns ctx.Err().
func (n *Notifier) Close(ctx context.Context) error {
	if !n.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(n.stop)

	done := make(chan struct{})
	go func() {
		<-n.aggDone
		n.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
		n.cancelSend()
		return nil
	case <-ctx.Done():
		n.cancelSend()
		<-done
		return ctx.Err()
	}
}

// Stats returns the counters.
func (n *Notifier) Stats() Stats {
	s := &n.stats
	return Stats{
		Reported:          s.reported.Load(),
		ReportsDropped:    s.reportsDropped.Load(),
		GroupErrors:       s.groupErrors.Load(),
		Alerts:            s.alerts.Load(),
		AlertsDropped:     s.alertsDropped.Load(),
		Delivered:         s.delivered.Load(),
		FailedAttempts:    s.failedAttempts.Load(),
		DeadLettered:      s.deadLettered.Load(),
		DeadLetterErrors:  s.deadLetterErrors.Load(),
		Published:         s.published.Load(),
		PublishErrors:     s.publishErrors.Load(),
		Quarantined:       s.quarantined.Load(),
		QuarantineErrors:  s.quarantineErrors.Load(),
		GroupsWaiting:     int(s.groupsWaiting.Load()),
		DeliveriesWaiting: len(n.out),
	}
}

// redisContext returns a context for one Redis call.
func (n *Notifier) redisContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), n.cfg.RedisTimeout)
}

// emit records a new alert and queues its delivery.
func (n *Notifier) emit(a *Alert) {
	n.stats.alerts.Add(1)
	if n.cfg.OnAlert != nil {
		n.cfg.OnAlert(a)
	}
	body, err := json.Marshal(a)
	if err != nil {
		n.log.Error("encoding an alert failed", zap.String("alert_id", a.ID), zap.Error(err))
		return
	}
	select {
	case n.out <- &delivery{alert: a, body: body}:
	default:
		n.stats.alertsDropped.Add(1)
		n.log.Error("alert delivery queue full; alert dropped",
			zap.String("alert_id", a.ID), zap.String("key_id", a.KeyID), zap.Int("queue_size", n.cfg.QueueSize))
	}
}
