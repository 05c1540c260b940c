package awra

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisDeliveryStore keeps delivery state in Redis, shared by every gateway
// instance that uses the same server. Each step is one Lua script or one
// command, so concurrent deliveries on several instances cannot both pass
// a check before either writes.
type redisDeliveryStore struct {
	client *redis.Client
}

// beginScript runs deliveryStore.begin.
//
//	KEYS[1] event state, KEYS[2] attempt counter, KEYS[3] replay key (optional)
//	ARGV[1] replay key lifetime in ms, ARGV[2] in-flight marker value,
//	ARGV[3] replay window in ms, ARGV[4] max deliveries,
//	ARGV[5] in-flight marker lifetime in ms
//
// It returns an admission code. A duplicate stores the replay key too, so
// that the same signed bytes sent a third time get 409. An in-flight or
// over-limit delivery stores nothing, so the provider's next retry is
// judged afresh.
var beginScript = redis.NewScript(`
local replay = KEYS[3]
if replay and redis.call("EXISTS", replay) == 1 then
	return 1
end
local state = redis.call("GET", KEYS[1])
if state == "delivered" then
	if replay then
		redis.call("SET", replay, "1", "PX", ARGV[1])
	end
	return 2
end
if state then
	return 3
end
local n = redis.call("INCR", KEYS[2])
if n == 1 then
	redis.call("PEXPIRE", KEYS[2], ARGV[3])
end
if n > tonumber(ARGV[4]) then
	return 4
end
redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[5])
if replay then
	redis.call("SET", replay, "1", "PX", ARGV[1])
end
return 0
`)

// releaseScript runs deliveryStore.release: it deletes the in-flight
// marker only while ARGV[1] still owns it, and the replay key if given.
//
//	KEYS[1] event state, KEYS[2] replay key (optional)
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	redis.call("DEL", KEYS[1])
end
if KEYS[2] then
	redis.call("DEL", KEYS[2])
end
return 0
`)

func (s redisDeliveryStore) begin(ctx context.Context, _ time.Time, k *deliveryKeys) (admission, error) {
	keys := []string{k.event, k.count}
	if k.replay != "" {
		keys = append(keys, k.replay)
	}
	code, err := beginScript.Run(ctx, s.client, keys,
		millis(k.replayTTL),
		eventInFlightPrefix+k.token,
		millis(k.window),
		k.maxDeliveries,
		millis(inFlightTTL),
	).Int()
	if err != nil {
		return 0, fmt.Errorf("checking webhook replay state in redis: %w", err)
	}
	if code < int(admitForward) || code > int(admitLimitExceeded) {
		return 0, fmt.Errorf("checking webhook replay state in redis: unexpected script result %d", code)
	}
	return admission(code), nil
}

func (s redisDeliveryStore) delivered(ctx context.Context, _ time.Time, k *deliveryKeys) error {
	if err := s.client.Set(ctx, k.event, eventDelivered, k.window).Err(); err != nil {
		return fmt.Errorf("marking a webhook event delivered in redis: %w", err)
	}
	return nil
}

func (s redisDeliveryStore) release(ctx context.Context, _ time.Time, k *deliveryKeys) error {
	keys := []string{k.event}
	if k.replay != "" {
		keys = append(keys, k.replay)
	}
	if err := releaseScript.Run(ctx, s.client, keys, eventInFlightPrefix+k.token).Err(); err != nil {
		return fmt.Errorf("releasing a failed webhook delivery in redis: %w", err)
	}
	return nil
}

// millis formats d in whole milliseconds for PX and PEXPIRE, at least 1
// because Redis rejects a zero expiry.
func millis(d time.Duration) string {
	return strconv.FormatInt(max(1, d.Milliseconds()), 10)
}
