package awra

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
)

// Metrics live in namespace caddy, subsystem awra. Labels are bounded:
// module, decision and reason codes, never a key id, address or path.

// decisionsTotal counts decisions of every awra handler. It is process
// wide, so counts survive config reloads; each configuration registers it
// with its own registry.
var decisionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy",
	Subsystem: "awra",
	Name:      "decisions_total",
	Help:      "Decisions of awragate's handlers by module, decision and reason code.",
}, []string{"module", "decision", "reason"})

// auditOpenFailures counts decisions that could not be recorded because
// the audit pipeline failed to open.
var auditOpenFailures = prometheus.NewCounter(prometheus.CounterOpts{
	Namespace: "caddy",
	Subsystem: "awra_audit",
	Name:      "open_failures_total",
	Help:      "Decisions not recorded because the audit spool could not be opened.",
})

// decisionKey names one series of decisionsTotal.
type decisionKey struct {
	module string
	allow  bool
	reason policy.Reason
}

// decisionCounters caches the series already used, so that counting a
// decision is a map read with no lock: the vector's own lookup takes a
// read lock shared by every request. Writers copy the map under
// decisionCountersMu and swap it in; there are only a few dozen series.
var (
	decisionCounters   atomic.Pointer[map[decisionKey]prometheus.Counter]
	decisionCountersMu sync.Mutex
)

// countDecision adds one decision to decisionsTotal.
func countDecision(d *decision) {
	key := decisionKey{module: d.module, allow: d.allow, reason: d.reason}
	if m := decisionCounters.Load(); m != nil {
		if c, ok := (*m)[key]; ok {
			c.Inc()
			return
		}
	}
	decisionCounter(key).Inc()
}

// decisionCounter adds the series for key to the cache.
func decisionCounter(key decisionKey) prometheus.Counter {
	decisionCountersMu.Lock()
	defer decisionCountersMu.Unlock()

	old := decisionCounters.Load()
	if old != nil {
		if c, ok := (*old)[key]; ok {
			return c
		}
	}
	outcome := "deny"
	if key.allow {
		outcome = "allow"
	}
	c := decisionsTotal.WithLabelValues(key.module, outcome, string(key.reason))

	next := make(map[decisionKey]prometheus.Counter, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[key] = c
	decisionCounters.Store(&next)
	return c
}

// auditCollector reports the audit pipeline's counters at scrape time.
type auditCollector struct {
	pipeline *atomic.Pointer[audit.Pipeline]
	descs    map[string]*prometheus.Desc
}

func newAuditCollector(p *atomic.Pointer[audit.Pipeline]) *auditCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("caddy", "awra_audit", name), help, labels, nil)
	}
	return &auditCollector{
		pipeline: p,
		descs: map[string]*prometheus.Desc{
			"enqueued":    desc("events_enqueued_total", "Audit events accepted into the queue."),
			"dropped":     desc("events_dropped_total", "Audit events dropped before they got a seq, by reason.", "reason"),
			"spooled":     desc("events_spooled_total", "Audit events committed to the local spool."),
			"published":   desc("events_published_total", "Audit events added to the Redis stream."),
			"replayed":    desc("events_replayed_total", "Audit events sent to Redis again after a timeout, reconnect, restart or rewind."),
			"queue":       desc("queue_events", "Audit events waiting for the spool writer."),
			"queue_bytes": desc("queue_bytes", "Approximate bytes of the audit events waiting for the spool writer."),
			"spool_bytes": desc("spool_bytes", "Size of the audit spool file."),
			"oldest":      desc("oldest_unpublished_seconds", "Age of the oldest spooled audit event not yet in Redis."),
			"redis_up":    desc("redis_up", "1 when the last Redis call of the audit publisher succeeded."),
		},
	}
}

// Describe implements prometheus.Collector.
func (c *auditCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *auditCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.pipeline.Load()
	if p == nil {
		return
	}
	s := p.Stats()
	counter := func(key string, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[key], prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(key string, v float64) {
		ch <- prometheus.MustNewConstMetric(c.descs[key], prometheus.GaugeValue, v)
	}
	counter("enqueued", s.Enqueued)
	counter("dropped", s.DroppedQueueFull, "queue_full")
	counter("dropped", s.DroppedQueueBytes, "queue_bytes")
	counter("dropped", s.DroppedClosed, "closed")
	counter("dropped", s.DroppedSpoolError, "spool_error")
	counter("spooled", s.Spooled)
	counter("published", s.Published)
	counter("replayed", s.Replayed)
	gauge("queue", float64(s.QueueLen))
	gauge("queue_bytes", float64(s.QueueBytes))
	gauge("spool_bytes", float64(s.SpoolBytes))
	gauge("oldest", s.OldestUnpublishedAge.Seconds())
	up := 0.0
	if s.RedisUp {
		up = 1
	}
	gauge("redis_up", up)
}

// registerMetrics adds the collectors to a configuration's registry.
func registerMetrics(reg prometheus.Registerer, collectors ...prometheus.Collector) error {
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}
