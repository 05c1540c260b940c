package awra

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/alert"
	"github.com/awra/awragate/policy/audit"
	"github.com/awra/awragate/policy/fleet"
)

// AlertsConfig sends security alerts about credentials used from outside
// their allowed networks (ip_not_allowed, source_ip_not_allowed). Denials
// are grouped per key, reason and source network (/24 for IPv4, /64 for
// IPv6). Every group gets at most one alert per cooldown, which counts
// its denials on all instances when the app has a redis option.
// Each alert is also an audit event of module "alert". The request path
// never waits for an alert: denials go to a bounded queue of a background
// worker, and a full queue drops them with a count in the metrics.
type AlertsConfig struct {
	// Webhook receives every alert as JSON, signed the Standard Webhooks
	// way (webhook-id, webhook-timestamp, webhook-signature) with its
	// secret. Optional.
	Webhook *AlertWebhook `json:"webhook,omitempty"`

	// RedisChannel is a Redis pub/sub channel that receives every alert
	// once, such as awra:alerts. Empty means none. Needs the redis option.
	RedisChannel string `json:"redis_channel,omitempty"`

	// Cooldown is the minimum time between two alerts of one group.
	// Default: 10m.
	Cooldown caddy.Duration `json:"cooldown,omitempty"`

	// GroupWait is the delay between a group's first denial and its
	// alert, so that denials arriving together share one alert.
	// Default: 5s.
	GroupWait caddy.Duration `json:"group_wait,omitempty"`

	// MaxAttempts is the number of webhook delivery attempts per alert,
	// from 1 to 100. Default: 8.
	MaxAttempts int `json:"max_attempts,omitempty"`

	// MinBackoff and MaxBackoff bound the wait between attempts, which
	// doubles per attempt with jitter. Defaults: 1s and 1m.
	MinBackoff caddy.Duration `json:"min_backoff,omitempty"`
	MaxBackoff caddy.Duration `json:"max_backoff,omitempty"`

	// DeadLetterStream is the Redis stream that keeps alerts whose last
	// attempt failed. Default: awra:alerts:dead when the app has a redis
	// option; without one such alerts are only logged and counted.
	DeadLetterStream string `json:"dead_letter_stream,omitempty"`

	// QueueSize bounds the denials waiting for the worker, and the alerts
	// waiting for delivery. Default: 1024.
	QueueSize int `json:"queue_size,omitempty"`

	// QuarantineAfter quarantines an API key that collects Denials bypass
	// denials within Window, counted in Redis across instances. Needs
	// the redis option.
	QuarantineAfter *QuarantineRule `json:"quarantine_after,omitempty"`
}

// AlertWebhook is the alert receiver.
type AlertWebhook struct {
	// URL is an http or https URL. Its query and user info never appear
	// in logs.
	URL string `json:"url,omitempty"`

	// Secret is a Standard Webhooks secret: "whsec_" and the base64 of at
	// least 24 random bytes. Use a placeholder such as
	// {env.AWRA_ALERT_SECRET}. Required.
	Secret string `json:"secret,omitempty"`

	// Timeout bounds one delivery attempt. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// QuarantineRule is the threshold of quarantine_after.
type QuarantineRule struct {
	// Denials is the number of bypass denials, from 1 to 10000.
	Denials int `json:"denials,omitempty"`

	// Window is the sliding window they are counted in, up to 24h.
	Window caddy.Duration `json:"window,omitempty"`
}

// Limits of the alert settings.
const (
	maxAlertAttempts     = 100
	maxQuarantineDenials = 10000
	maxQuarantineWindow  = 24 * time.Hour
)

// alertNotifiers shares one notifier per alert configuration across
// configurations, so a reload neither loses waiting groups nor sends an
// alert twice.
var alertNotifiers = caddy.NewUsagePool()

// sharedNotifier is a Notifier with the app state its callbacks use.
type sharedNotifier struct {
	*alert.Notifier
	audit      atomic.Pointer[audit.Pipeline]
	quarantine atomic.Pointer[quarantineSet]
}

// notifierCloseTimeout bounds the final claims and delivery attempts when
// the last configuration releases a notifier.
const notifierCloseTimeout = 5 * time.Second

// Destruct claims the waiting groups and delivers or dead-letters what is
// left, once no configuration uses the notifier.
func (s *sharedNotifier) Destruct() error {
	ctx, cancel := context.WithTimeout(context.Background(), notifierCloseTimeout)
	defer cancel()
	return s.Close(ctx)
}

// alertSetup is the alert configuration after placeholders, defaults and
// checks, built in Provision without starting anything.
type alertSetup struct {
	cfg     alert.Config
	poolKey string
}

// prepareAlerts checks the alerts block. It sends nothing, so that
// `awragate validate` has no side effects.
func (a *App) prepareAlerts() (*alertSetup, error) {
	ac := a.Alerts
	if err := ac.validate(a.redis != nil); err != nil {
		return nil, err
	}
	repl := caddy.NewReplacer()
	cfg := alert.Config{
		Instance:    a.instance,
		Timing:      alert.Timing{Wait: time.Duration(ac.GroupWait), Cooldown: time.Duration(ac.Cooldown)},
		MaxAttempts: ac.MaxAttempts,
		MinBackoff:  time.Duration(ac.MinBackoff),
		MaxBackoff:  time.Duration(ac.MaxBackoff),
		QueueSize:   ac.QueueSize,
		Logger:      a.logger.Named("alerts"),
	}
	keyParts := []string{a.instance, a.redisURL, ac.RedisChannel, ac.DeadLetterStream,
		durationKey(ac.Cooldown), durationKey(ac.GroupWait), strconv.Itoa(ac.MaxAttempts),
		durationKey(ac.MinBackoff), durationKey(ac.MaxBackoff), strconv.Itoa(ac.QueueSize)}

	if wh := ac.Webhook; wh != nil {
		url := repl.ReplaceKnown(wh.URL, "")
		secret := repl.ReplaceKnown(wh.Secret, "")
		if secret == "" {
			return nil, fmt.Errorf("alerts: webhook secret is empty after placeholder replacement: set it, for example secret {env.AWRA_ALERT_SECRET}, and export a Standard Webhooks secret (whsec_ and the base64 of 32 random bytes) in that variable")
		}
		sender, err := alert.NewWebhookSender(url, secret, time.Duration(wh.Timeout))
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		cfg.Webhook = sender
		// The pool key holds a digest of the secret, never the secret.
		sum := sha256.Sum256([]byte(url + "\x00" + secret + "\x00" + durationKey(wh.Timeout)))
		keyParts = append(keyParts, hex.EncodeToString(sum[:]))
	}

	if a.redis != nil {
		cfg.Groups = alert.NewRedisGroups(a.redis, "", cfg.Timing)
		if ac.RedisChannel != "" {
			cfg.Channel = alert.RedisChannel{Client: a.redis, Channel: ac.RedisChannel}
		}
		cfg.DeadLetter = alert.RedisStream{Client: a.redis, Stream: ac.DeadLetterStream}
	}
	if q := ac.QuarantineAfter; q != nil {
		cfg.Quarantine = fleet.NewQuarantine(a.redis, q.Denials, time.Duration(q.Window), a.instance)
		cfg.QuarantineWindow = time.Duration(q.Window)
		keyParts = append(keyParts, strconv.Itoa(q.Denials), durationKey(q.Window))
	}

	data, _ := json.Marshal(keyParts)
	return &alertSetup{cfg: cfg, poolKey: string(data)}, nil
}

func durationKey(d caddy.Duration) string { return time.Duration(d).String() }

// validate checks the settings that need no placeholder replacement.
func (ac *AlertsConfig) validate(haveRedis bool) error {
	switch {
	case ac.MaxAttempts < 0 || ac.MaxAttempts > maxAlertAttempts:
		return fmt.Errorf("alerts: max_attempts: invalid value %d: use 1 to %d", ac.MaxAttempts, maxAlertAttempts)
	case ac.Cooldown < 0 || ac.GroupWait < 0 || ac.MinBackoff < 0 || ac.MaxBackoff < 0:
		return fmt.Errorf("alerts: cooldown, group_wait and backoff must be positive durations")
	case ac.MaxBackoff > 0 && ac.MaxBackoff < ac.MinBackoff:
		return fmt.Errorf("alerts: backoff: the maximum %s is below the minimum %s", time.Duration(ac.MaxBackoff), time.Duration(ac.MinBackoff))
	case ac.QueueSize < 0:
		return fmt.Errorf("alerts: queue_size: invalid value %d: use a positive number", ac.QueueSize)
	case ac.RedisChannel != "" && !haveRedis:
		return fmt.Errorf("alerts: redis_channel '%s' needs the redis option of the awra app", ac.RedisChannel)
	case ac.Webhook != nil && ac.Webhook.URL == "":
		return fmt.Errorf("alerts: webhook URL is missing: write webhook https://siem.example.com/hooks/awra { secret {env.AWRA_ALERT_SECRET} }")
	}
	if q := ac.QuarantineAfter; q != nil {
		switch {
		case !haveRedis:
			return fmt.Errorf("alerts: quarantine_after needs the redis option of the awra app, because denials are counted across instances in Redis")
		case q.Denials < 1 || q.Denials > maxQuarantineDenials:
			return fmt.Errorf("alerts: quarantine_after: invalid count %d: use 1 to %d denials", q.Denials, maxQuarantineDenials)
		case q.Window <= 0 || time.Duration(q.Window) > maxQuarantineWindow:
			return fmt.Errorf("alerts: quarantine_after: invalid window %s: use a duration up to %s, such as 10m", time.Duration(q.Window), maxQuarantineWindow)
		}
	}
	return nil
}

// startAlerts starts the shared notifier, or joins the one an earlier
// configuration started.
func (a *App) startAlerts() error {
	if a.alertSetup == nil {
		return nil
	}
	val, _, err := alertNotifiers.LoadOrNew(a.alertSetup.poolKey, func() (caddy.Destructor, error) {
		s := &sharedNotifier{}
		cfg := a.alertSetup.cfg
		logger := cfg.Logger
		cfg.OnAlert = func(al *alert.Alert) { s.recordAlert(al, logger) }
		cfg.OnQuarantine = func(keyID string, res alert.QuarantineResult) { s.recordQuarantine(keyID, res, cfg, logger) }
		s.Notifier = alert.New(cfg)
		s.Notifier.Start()
		return s, nil
	})
	if err != nil {
		return err
	}
	s := val.(*sharedNotifier)
	if p := a.pipeline.Load(); p != nil {
		s.audit.Store(p)
	}
	if a.quarantine != nil {
		s.quarantine.Store(a.quarantine)
	}
	a.notifier.Store(s)
	return nil
}

// stopAlerts releases this configuration's hold on the notifier.
func (a *App) stopAlerts() error {
	if a.notifier == nil || a.notifier.Swap(nil) == nil {
		return nil
	}
	_, err := alertNotifiers.Delete(a.alertSetup.poolKey)
	return err
}

// reportBypass hands a denial of a request from outside its credential's
// allowed networks to the alert worker, without blocking. Handlers call
// it for every ip_not_allowed and source_ip_not_allowed denial. An API
// key handler sets KeyID and Owner. A webhook route sets KeyID to
// "webhook:" and its provider, and Allowed to its source_cidrs. Without
// an alerts block, or before the app starts, it does nothing.
func (a *App) reportBypass(b alert.Bypass) {
	if a == nil || a.notifier == nil {
		return
	}
	if n := a.notifier.Load(); n != nil {
		n.Report(b)
	}
}

// recordAlert logs an alert and writes it to the audit trail.
func (s *sharedNotifier) recordAlert(al *alert.Alert, logger *zap.Logger) {
	logger.Warn("security alert",
		zap.String("alert_id", al.ID),
		zap.String("type", string(al.Kind)),
		zap.String("reason", string(al.Reason)),
		zap.String("key_id", al.KeyID),
		zap.String("source_network", al.SourceNetwork),
		zap.Int64("count", al.Count),
	)
	p := s.audit.Load()
	if p == nil {
		return
	}
	ev := audit.NewEvent()
	ev.TS = al.CreatedAt
	ev.Module = audit.ModuleAlert
	ev.Decision = audit.DecisionDeny
	ev.Reason = al.Reason
	ev.KeyID = al.KeyID
	ev.ClientIP = al.ClientIP
	ev.Detail = fmt.Sprintf("alert_id=%s type=%s count=%d source_network=%s first_seen=%s last_seen=%s",
		al.ID, al.Kind, al.Count, al.SourceNetwork,
		al.FirstSeen.Format(time.RFC3339Nano), al.LastSeen.Format(time.RFC3339Nano))
	p.Enqueue(ev)
}

// recordQuarantine applies a quarantine this instance made at once,
// without waiting for its pub/sub event, and audits it.
func (s *sharedNotifier) recordQuarantine(keyID string, res alert.QuarantineResult, cfg alert.Config, logger *zap.Logger) {
	if q := s.quarantine.Load(); q != nil {
		q.add(keyID, fleet.QuarantineRecord{Since: time.Now().UTC(), Count: res.Count, Window: cfg.QuarantineWindow.String(), Instance: cfg.Instance})
	}
	logger.Warn("key quarantined", zap.String("key_id", keyID), zap.Int("bypass_denials", res.Count), zap.Duration("window", cfg.QuarantineWindow))
	if p := s.audit.Load(); p != nil {
		p.Enqueue(&audit.Event{
			Module:   audit.ModuleAdmin,
			Decision: audit.DecisionDeny,
			Reason:   policy.ReasonKeyQuarantined,
			KeyID:    keyID,
			Detail:   fmt.Sprintf("bypass_denials=%d window=%s", res.Count, cfg.QuarantineWindow),
		})
	}
}
