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

// beginScript runs deliveryStore.begin over the keys of every secret of
// the route.
//
//	KEYS[1..n] event states, KEYS[n+1..2n] attempt counters,
//	KEYS[2n+1..3n] replay keys (optional)
//	ARGV[1] replay key lifetime in ms, ARGV[2] in-flight marker value,
//	ARGV[3] replay window in ms, ARGV[4] max deliveries,
//	ARGV[5] in-flight marker lifetime in ms, ARGV[6] n
//
// It returns an admission code. Any replay key makes the delivery a
// replay, any delivered state a duplicate, and any other state an
// in-flight copy. The attempt count is one more than the largest counter,
// and it is written to every counter: one that exists keeps its expiry,
// a new one expires after the window. A duplicate stores the replay keys
// too, so that the same signed bytes sent a third time get 409. An
// in-flight or over-limit delivery stores no marker and no replay key, so
// the provider's next retry is judged afresh.
var beginScript = redis.NewScript(`
local n = tonumber(ARGV[6])
local replays = #KEYS > 2 * n
local function store_replays()
	if replays then
		for i = 2 * n + 1, 3 * n do
			redis.call("SET", KEYS[i], "1", "PX", ARGV[1])
		end
	end
end
if replays then
	for i = 2 * n + 1, 3 * n do
		if redis.call("EXISTS", KEYS[i]) == 1 then
			return 1
		end
	end
end
local busy = false
for i = 1, n do
	local state = redis.call("GET", KEYS[i])
	if state == "delivered" then
		store_replays()
		return 2
	end
	if state then
		busy = true
	end
end
if busy then
	return 3
end
local count = 0
for i = n + 1, 2 * n do
	local value = redis.call("GET", KEYS[i])
	if value then
		local c = tonumber(value)
		if not c then
			return redis.error_reply("ERR attempt counter is not an integer")
		end
		if c > count then
			count = c
		end
	end
end
count = string.format("%d", count + 1)
for i = n + 1, 2 * n do
	if not redis.call("SET", KEYS[i], count, "XX", "KEEPTTL") then
		redis.call("SET", KEYS[i], count, "PX", ARGV[3])
	end
end
if tonumber(count) > tonumber(ARGV[4]) then
	return 4
end
for i = 1, n do
	redis.call("SET", KEYS[i], ARGV[2], "PX", ARGV[5])
end
store_replays()
return 0
`)

// releaseScript runs deliveryStore.release: it deletes each in-flight
// marker only while ARGV[1] still owns it, and every replay key given.
//
//	KEYS[1..n] event states, KEYS[n+1..2n] replay keys (optional)
//	ARGV[1] in-flight marker value, ARGV[2] n
var releaseScript = redis.NewScript(`
local n = tonumber(ARGV[2])
for i = 1, n do
	if redis.call("GET", KEYS[i]) == ARGV[1] then
		redis.call("DEL", KEYS[i])
	end
end
for i = n + 1, #KEYS do
	redis.call("DEL", KEYS[i])
end
return 0
`)

func (s redisDeliveryStore) begin(ctx context.Context, _ time.Time, k *deliveryKeys) (admission, error) {
	keys := make([]string, 0, len(k.events)+len(k.counts)+len(k.replays))
	keys = append(keys, k.events...)
	keys = append(keys, k.counts...)
	keys = append(keys, k.replays...)
	code, err := beginScript.Run(ctx, s.client, keys,
		millis(k.replayTTL),
		eventInFlightPrefix+k.token,
		millis(k.window),
		k.maxDeliveries,
		millis(inFlightTTL),
		len(k.events),
	).Int()
	if err != nil {
		return 0, fmt.Errorf("checking webhook replay state in redis: %w", err)
	}
	if code < int(admitForward) || code > int(admitLimitExceeded) {
		return 0, fmt.Errorf("checking webhook replay state in redis: unexpected script result %d", code)
	}
	return admission(code), nil
}

// delivered sets every event key in one MULTI transaction. The keys share
// a hash slot, as a transaction on Redis Cluster needs.
func (s redisDeliveryStore) delivered(ctx context.Context, _ time.Time, k *deliveryKeys) error {
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, key := range k.events {
			p.Set(ctx, key, eventDelivered, k.window)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("marking a webhook event delivered in redis: %w", err)
	}
	return nil
}

func (s redisDeliveryStore) release(ctx context.Context, _ time.Time, k *deliveryKeys) error {
	keys := make([]string, 0, len(k.events)+len(k.replays))
	keys = append(keys, k.events...)
	keys = append(keys, k.replays...)
	if err := releaseScript.Run(ctx, s.client, keys, eventInFlightPrefix+k.token, len(k.events)).Err(); err != nil {
		return fmt.Errorf("releasing a failed webhook delivery in redis: %w", err)
	}
	return nil
}

// millis formats d in whole milliseconds for PX and PEXPIRE, at least 1
// because Redis rejects a zero expiry.
func millis(d time.Duration) string {
	return strconv.FormatInt(max(1, d.Milliseconds()), 10)
}
