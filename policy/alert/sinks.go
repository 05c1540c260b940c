package alert

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of the Redis sinks.
const (
	DefaultChannel          = "awra:alerts"
	DefaultDeadLetterStream = "awra:alerts:dead"
	DefaultDeadLetterMaxLen = 10000
)

// Publisher sends an alert's JSON body to live subscribers.
type Publisher interface {
	Publish(ctx context.Context, body []byte) error
}

// DeadLetter keeps alerts whose delivery failed for good.
type DeadLetter interface {
	Add(ctx context.Context, e DeadLetterEntry) error
}

// DeadLetterEntry is one alert that was not delivered.
type DeadLetterEntry struct {
	Alert     *Alert
	Body      []byte // the JSON that was sent
	Attempts  int
	LastError string // never contains a secret or a URL query
	FailedAt  time.Time
}

// RedisChannel publishes alerts on a Redis pub/sub channel.
type RedisChannel struct {
	Client  redis.Cmdable
	Channel string // Default: DefaultChannel
}

// Publish implements Publisher.
func (c RedisChannel) Publish(ctx context.Context, body []byte) error {
	channel := c.Channel
	if channel == "" {
		channel = DefaultChannel
	}
	if err := c.Client.Publish(ctx, channel, body).Err(); err != nil {
		return fmt.Errorf("publishing the alert on '%s': %w", channel, err)
	}
	return nil
}

// RedisStream appends undelivered alerts to a Redis stream, trimmed
// approximately to MaxLen entries. Each entry has the fields id, type,
// key_id, reason, attempts, error, failed_at and alert (the JSON body).
type RedisStream struct {
	Client redis.Cmdable
	Stream string // Default: DefaultDeadLetterStream
	MaxLen int64  // Default: DefaultDeadLetterMaxLen
}

// Add implements DeadLetter.
func (s RedisStream) Add(ctx context.Context, e DeadLetterEntry) error {
	stream := s.Stream
	if stream == "" {
		stream = DefaultDeadLetterStream
	}
	maxLen := s.MaxLen
	if maxLen <= 0 {
		maxLen = DefaultDeadLetterMaxLen
	}
	err := s.Client.XAdd(ctx, &redis.XAddArgs{
		Stream: stream,
		MaxLen: maxLen,
		Approx: true,
		Values: []any{
			"id", e.Alert.ID,
			"type", string(e.Alert.Kind),
			"key_id", e.Alert.KeyID,
			"reason", string(e.Alert.Reason),
			"attempts", strconv.Itoa(e.Attempts),
			"error", e.LastError,
			"failed_at", e.FailedAt.UTC().Format(time.RFC3339Nano),
			"alert", string(e.Body),
		},
	}).Err()
	if err != nil {
		return fmt.Errorf("adding the alert to dead-letter stream '%s': %w", stream, err)
	}
	return nil
}

// Quarantiner counts bypass denials of API keys across the fleet and
// quarantines a key that collects too many.
type Quarantiner interface {
	// CountBypass counts one denial of keyID at now. Quarantined is true
	// only for the call whose denial made the key quarantined, on
	// whichever instance made it.
	CountBypass(ctx context.Context, keyID string, now time.Time) (QuarantineResult, error)
}

// QuarantineResult is the outcome of Quarantiner.CountBypass.
type QuarantineResult struct {
	Count       int
	Quarantined bool
}
