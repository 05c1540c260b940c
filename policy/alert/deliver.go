package alert

import (
	"time"

	"go.uber.org/zap"
)

// deliver publishes one alert on the channel and posts it to the webhook,
// retrying with backoff. An alert that fails every attempt, or that is
// still failing when the Notifier closes, goes to the dead-letter stream.
func (n *Notifier) deliver(d *delivery) {
	a := d.alert
	if n.cfg.Channel != nil {
		ctx, cancel := n.redisContext()
		err := n.cfg.Channel.Publish(ctx, d.body)
		cancel()
		if err != nil {
			n.stats.publishErrors.Add(1)
			n.log.Warn("publishing an alert failed", zap.String("alert_id", a.ID), zap.String("key_id", a.KeyID), zap.Error(err))
		} else {
			n.stats.published.Add(1)
		}
	}
	if n.cfg.Webhook == nil {
		return
	}

	var lastErr error
	attempts := 0
	for attempts < n.cfg.MaxAttempts {
		attempts++
		lastErr = n.cfg.Webhook.Send(n.sendCtx, a.ID, d.body, n.cfg.Now())
		if lastErr == nil {
			n.stats.delivered.Add(1)
			return
		}
		n.stats.failedAttempts.Add(1)
		if attempts == n.cfg.MaxAttempts || n.closed.Load() {
			break
		}

		wait := Backoff(attempts, n.cfg.MinBackoff, n.cfg.MaxBackoff, n.cfg.Jitter())
		n.log.Warn("alert delivery failed; retrying",
			zap.String("alert_id", a.ID), zap.String("key_id", a.KeyID),
			zap.Int("attempt", attempts), zap.Int("max_attempts", n.cfg.MaxAttempts),
			zap.Duration("retry_in", wait), zap.Error(lastErr))
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-n.stop:
			timer.Stop()
		}
	}
	n.deadLetter(d, attempts, lastErr)
}

// deadLetter keeps an undelivered alert, or logs it when that fails too.
func (n *Notifier) deadLetter(d *delivery, attempts int, lastErr error) {
	a := d.alert
	n.log.Error("alert delivery failed for good",
		zap.String("alert_id", a.ID), zap.String("key_id", a.KeyID),
		zap.Int("attempts", attempts), zap.Error(lastErr))
	// Once Close has run out of time, a dead-letter stream that already
	// failed is not tried again, so a stop cannot wait a Redis timeout per
	// queued alert.
	if n.cfg.DeadLetter == nil || (n.sendCtx.Err() != nil && n.deadLetterFailed.Load()) {
		n.stats.deadLetterErrors.Add(1)
		return
	}
	ctx, cancel := n.redisContext()
	err := n.cfg.DeadLetter.Add(ctx, DeadLetterEntry{
		Alert:     a,
		Body:      d.body,
		Attempts:  attempts,
		LastError: errorText(lastErr),
		FailedAt:  n.cfg.Now(),
	})
	cancel()
	if err != nil {
		n.deadLetterFailed.Store(true)
		n.stats.deadLetterErrors.Add(1)
		n.log.Error("dead-lettering an alert failed; the alert is lost", zap.String("alert_id", a.ID), zap.Error(err))
		return
	}
	n.deadLetterFailed.Store(false)
	n.stats.deadLettered.Add(1)
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
