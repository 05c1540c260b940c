package awra

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// limitStore names the bucket that decided a rate limit check, as the
// "store" label of the rate limit metrics.
type limitStore int

const (
	storeLocal limitStore = iota
	storeRedis
	storeFallback
)

var limitStoreNames = [...]string{"local", "redis", "fallback"}

// Rate limit metrics are process wide, like decisionsTotal. They have no
// key label: key ids are unbounded in principle and the project keeps
// them out of metrics. Throttled requests per key are in the audit trail,
// one api_key event with reason rate_limited per denied request.
var (
	rateLimitChecksVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "awra",
		Name:      "rate_limit_checks_total",
		Help:      "Rate limit checks of API keys by the bucket that decided: local, redis, or fallback (this instance's share while Redis is unreachable).",
	}, []string{"store"})

	rateLimitedVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "awra",
		Name:      "rate_limited_total",
		Help:      "Requests denied with 429 rate_limited by the bucket that decided. Counts per key are in the audit trail.",
	}, []string{"store"})

	// Counters resolved once, so a check does not look up labels.
	rateLimitChecks  = resolveStoreCounters(rateLimitChecksVec)
	rateLimitedTotal = resolveStoreCounters(rateLimitedVec)
)

func resolveStoreCounters(vec *prometheus.CounterVec) [len(limitStoreNames)]prometheus.Counter {
	var out [len(limitStoreNames)]prometheus.Counter
	for i, name := range limitStoreNames {
		out[i] = vec.WithLabelValues(name)
	}
	return out
}

// fleetCollector reports the state of the app's Redis-backed parts at
// scrape time: shared rate limits, the fleet key registry, quarantines
// and alerts.
type fleetCollector struct {
	app   *App
	descs map[string]*prometheus.Desc
}

func newFleetCollector(a *App) *fleetCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("caddy", "awra", name), help, nil, nil)
	}
	return &fleetCollector{app: a, descs: map[string]*prometheus.Desc{
		"limit_up":         desc("rate_limit_redis_up", "1 when the last shared rate limit call to Redis succeeded, 0 while instances enforce their share locally."),
		"keys_up":          desc("keys_store_up", "1 when the fleet key registry in Redis was readable at the last attempt, 0 while the last known registry serves."),
		"keys_age":         desc("keys_store_sync_age_seconds", "Time since the fleet key registry was last read from Redis."),
		"keys":             desc("keys", "Keys in the registry this instance serves."),
		"quarantined":      desc("quarantined_keys", "Keys this instance treats as quarantined."),
		"quarantine_up":    desc("quarantine_redis_up", "1 when the quarantined keys were readable from Redis at the last attempt."),
		"reports":          desc("alert_reports_total", "Bypass denials handed to the alert worker."),
		"reports_dropped":  desc("alert_reports_dropped_total", "Bypass denials dropped before grouping: queue full or worker stopped."),
		"group_errors":     desc("alert_group_errors_total", "Alert group updates that failed in Redis and were grouped on this instance only."),
		"alerts":           desc("alerts_total", "Alerts created by this instance."),
		"alerts_dropped":   desc("alerts_dropped_total", "Alerts dropped because the delivery queue was full."),
		"delivered":        desc("alerts_delivered_total", "Alerts the alert webhook accepted."),
		"failed_attempts":  desc("alert_delivery_failures_total", "Alert webhook delivery attempts that failed."),
		"dead_lettered":    desc("alerts_dead_lettered_total", "Alerts added to the dead-letter stream after the last attempt failed."),
		"dead_letter_errs": desc("alerts_lost_total", "Alerts that failed delivery and could not be dead-lettered either."),
		"published":        desc("alerts_published_total", "Alerts published on the Redis channel."),
		"publish_errors":   desc("alert_publish_errors_total", "Alerts whose publication on the Redis channel failed."),
		"quarantines":      desc("quarantines_total", "Keys this instance quarantined."),
	}}
}

// Describe implements prometheus.Collector.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.app
	gauge := func(key string, v float64) {
		ch <- prometheus.MustNewConstMetric(c.descs[key], prometheus.GaugeValue, v)
	}
	counter := func(key string, v uint64) {
		ch <- prometheus.MustNewConstMetric(c.descs[key], prometheus.CounterValue, float64(v))
	}
	boolValue := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}

	if a.limits != nil && a.limits.shared != nil {
		gauge("limit_up", boolValue(a.limits.up()))
	}
	if reg := a.Registry(); reg != nil {
		gauge("keys", float64(reg.Len()))
	}
	if a.fleetKeys != nil {
		gauge("keys_up", boolValue(a.fleetKeys.state.up()))
		gauge("keys_age", a.fleetKeys.syncAge(time.Now()).Seconds())
	}
	if a.quarantine != nil {
		gauge("quarantined", float64(a.quarantine.size()))
		gauge("quarantine_up", boolValue(a.quarantine.state.up()))
	}
	if n := a.notifier.Load(); n != nil {
		s := n.Stats()
		counter("reports", s.Reported)
		counter("reports_dropped", s.ReportsDropped)
		counter("group_errors", s.GroupErrors)
		counter("alerts", s.Alerts)
		counter("alerts_dropped", s.AlertsDropped)
		counter("delivered", s.Delivered)
		counter("failed_attempts", s.FailedAttempts)
		counter("dead_lettered", s.DeadLettered)
		counter("dead_letter_errs", s.DeadLetterErrors)
		counter("published", s.Published)
		counter("publish_errors", s.PublishErrors)
		counter("quarantines", s.Quarantined)
	}
}
