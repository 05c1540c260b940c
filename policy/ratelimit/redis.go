package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix starts the Redis key of every shared bucket.
const DefaultKeyPrefix = "awra:ratelimit:"

// minInterval is the shortest emission interval the Redis bucket keeps, in
// microseconds, so rates above one million per second are enforced as one
// million per second.
const minInterval = 1

// gcraLua runs the generic cell rate algorithm (GCRA) on one bucket. The
// bucket is a single string: the theoretical arrival time (TAT) in
// microseconds of the Redis clock. A request is admitted when the TAT it
// would set lies at most burst intervals ahead of now. The key expires
// when the bucket would be full again, so idle keys leave no state.
//
// KEYS[1] is the bucket. ARGV[1] is the emission interval in microseconds
// (1/rate) and ARGV[2] the burst. It returns {allowed (1 or 0), remaining
// requests, microseconds until one request is admitted (on a denial),
// microseconds until one request more than the remaining ones is
// admitted}.
const gcraLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end
local allowAt = tat + interval - interval * burst
if now < allowAt then
  return {0, 0, allowAt - now, allowAt - now}
end
local newTat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', newTat), 'PX', math.ceil((newTat - now) / 1000))
local available = (now - allowAt) / interval
local remaining = math.floor(available)
return {1, remaining, 0, math.ceil((remaining + 1 - available) * interval)}
`

var gcraScript = redis.NewScript(gcraLua)

// RedisBucket is a GCRA bucket per key in Redis, shared by every gateway
// instance that uses the same server and prefix. Each Allow call is one
// EVALSHA round trip (EVAL once after a server restart flushed the script
// cache). It is safe for concurrent use.
type RedisBucket struct {
	client redis.Scripter
	prefix string
}

// NewRedisBucket returns buckets in client under prefix; an empty prefix
// means DefaultKeyPrefix. The client's timeouts bound each call, so give
// it short ones: a request waits for this call.
func NewRedisBucket(client redis.Scripter, prefix string) *RedisBucket {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &RedisBucket{client: client, prefix: prefix}
}

// Key returns the Redis key of the bucket of keyID. The braces make it a
// Redis Cluster hash tag.
func (b *RedisBucket) Key(keyID string) string {
	return b.prefix + "{" + keyID + "}"
}

// Allow takes one request from the bucket of keyID under limit l.
func (b *RedisBucket) Allow(ctx context.Context, keyID string, l Limit) (Result, error) {
	interval := int64(minInterval)
	if l.PerSecond > 0 {
		interval = max(minInterval, int64(math.Round(1e6/l.PerSecond)))
	}
	burst := max(1, l.Burst)

	reply, err := gcraScript.Run(ctx, b.client, []string{b.Key(keyID)},
		strconv.FormatInt(interval, 10), strconv.Itoa(burst)).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("rate limit script: %w", err)
	}
	if len(reply) != 4 {
		return Result{}, fmt.Errorf("rate limit script: got %d values, want 4", len(reply))
	}
	return Result{
		Allowed:    reply[0] == 1,
		Remaining:  int(reply[1]),
		RetryAfter: time.Duration(reply[2]) * time.Microsecond,
		ResetAfter: time.Duration(reply[3]) * time.Microsecond,
	}, nil
}
