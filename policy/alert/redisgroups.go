package alert

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultGroupPrefix starts the Redis key of every alert group.
const DefaultGroupPrefix = "awra:alerts:group:"

// recordLua counts one denial in a group hash and schedules its alert.
// Times are Unix milliseconds of the callers' clocks.
//
// KEYS[1] is the group hash. ARGV: now, the denial time, wait, cooldown,
// stale, ttl (all ms), client IP, owner, module, allowed networks joined
// by ','. It returns {flush (1 when this caller must claim the alert),
// due time}.
const recordLua = `
local now = tonumber(ARGV[1])
local at = tonumber(ARGV[2])
redis.call('HINCRBY', KEYS[1], 'pending', 1)
redis.call('HINCRBY', KEYS[1], 'total', 1)
local first = tonumber(redis.call('HGET', KEYS[1], 'pfirst'))
if not first or at < first then
  redis.call('HSET', KEYS[1], 'pfirst', ARGV[2])
end
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
if not last or at >= last then
  redis.call('HSET', KEYS[1], 'last', ARGV[2], 'ip', ARGV[7], 'owner', ARGV[8], 'module', ARGV[9], 'allowed', ARGV[10])
end
local due = tonumber(redis.call('HGET', KEYS[1], 'due'))
local flush = 0
if not due or now > due + tonumber(ARGV[5]) then
  due = now + tonumber(ARGV[3])
  local sent = tonumber(redis.call('HGET', KEYS[1], 'sent'))
  if sent and sent + tonumber(ARGV[4]) > due then
    due = sent + tonumber(ARGV[4])
  end
  redis.call('HSET', KEYS[1], 'due', string.format('%d', due))
  flush = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {flush, due}
`

// claimLua takes a group's pending denials when its alert is due.
//
// KEYS[1] is the group hash. ARGV: now (ms), force ('1' to claim before
// the due time), ttl (ms). It returns {0} when there is nothing to send,
// {2, due} when the alert is not due yet, and {1, pending, total, first,
// last, ip, owner, module, allowed} when the caller must send it.
const claimLua = `
local due = tonumber(redis.call('HGET', KEYS[1], 'due'))
if not due then
  return {0}
end
if ARGV[2] ~= '1' and tonumber(ARGV[1]) < due then
  return {2, due}
end
redis.call('HDEL', KEYS[1], 'due')
local v = redis.call('HMGET', KEYS[1], 'pending', 'total', 'pfirst', 'last', 'ip', 'owner', 'module', 'allowed')
if (tonumber(v[1]) or 0) == 0 then
  return {0}
end
redis.call('HSET', KEYS[1], 'pending', 0, 'sent', ARGV[1])
redis.call('HDEL', KEYS[1], 'pfirst')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]}
`

var (
	recordScript = redis.NewScript(recordLua)
	claimScript  = redis.NewScript(claimLua)
)

// RedisGroups keeps groups in Redis hashes shared by every instance, so a
// scan spread over the fleet becomes one alert. Each hash expires after
// two cooldowns without a denial. It is safe for concurrent use.
type RedisGroups struct {
	client redis.Scripter
	prefix string
	timing Timing
}

// NewRedisGroups returns groups in client under prefix (empty means
// DefaultGroupPrefix) with timing t after defaults.
func NewRedisGroups(client redis.Scripter, prefix string, t Timing) *RedisGroups {
	if prefix == "" {
		prefix = DefaultGroupPrefix
	}
	return &RedisGroups{client: client, prefix: prefix, timing: t.WithDefaults()}
}

// Key returns the Redis key of group g.
func (r *RedisGroups) Key(g Group) string {
	return r.prefix + "{" + g.String() + "}"
}

// Record implements Groups.
func (r *RedisGroups) Record(ctx context.Context, g Group, b Bypass, now time.Time) (time.Time, bool, error) {
	at := b.At
	if at.IsZero() {
		at = now
	}
	t := r.timing
	reply, err := recordScript.Run(ctx, r.client, []string{r.Key(g)},
		now.UnixMilli(), at.UnixMilli(),
		t.Wait.Milliseconds(), t.Cooldown.Milliseconds(), t.Stale.Milliseconds(), t.ttl().Milliseconds(),
		addrString(b), b.Owner, b.Module, strings.Join(prefixStrings(b.Allowed), ","),
	).Int64Slice()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("recording an alert group: %w", err)
	}
	if len(reply) != 2 {
		return time.Time{}, false, fmt.Errorf("recording an alert group: got %d values, want 2", len(reply))
	}
	return time.UnixMilli(reply[1]), reply[0] == 1, nil
}

// Claim implements Groups.
func (r *RedisGroups) Claim(ctx context.Context, g Group, now time.Time, force bool) (Snapshot, ClaimStatus, time.Time, error) {
	forceArg := "0"
	if force {
		forceArg = "1"
	}
	reply, err := claimScript.Run(ctx, r.client, []string{r.Key(g)},
		now.UnixMilli(), forceArg, r.timing.ttl().Milliseconds()).Slice()
	if err != nil {
		return Snapshot{}, ClaimNone, time.Time{}, fmt.Errorf("claiming an alert group: %w", err)
	}
	return parseClaim(reply)
}

// parseClaim reads the reply of claimLua.
func parseClaim(reply []any) (Snapshot, ClaimStatus, time.Time, error) {
	bad := func(what string) (Snapshot, ClaimStatus, time.Time, error) {
		return Snapshot{}, ClaimNone, time.Time{}, fmt.Errorf("claiming an alert group: invalid reply: %s", what)
	}
	if len(reply) == 0 {
		return bad("empty")
	}
	status, ok := reply[0].(int64)
	if !ok {
		return bad("status is not a number")
	}
	switch {
	case status == 0:
		return Snapshot{}, ClaimNone, time.Time{}, nil
	case status == 2 && len(reply) == 2:
		due, ok := reply[1].(int64)
		if !ok {
			return bad("due time is not a number")
		}
		return Snapshot{}, ClaimEarly, time.UnixMilli(due), nil
	case status != 1 || len(reply) != 9:
		return bad(fmt.Sprintf("status %d with %d values", status, len(reply)))
	}

	field := func(i int) string {
		s, _ := reply[i].(string)
		return s
	}
	number := func(i int) int64 {
		n, _ := strconv.ParseInt(field(i), 10, 64)
		return n
	}
	snap := Snapshot{
		Count:     number(1),
		Total:     number(2),
		FirstSeen: time.UnixMilli(number(3)).UTC(),
		LastSeen:  time.UnixMilli(number(4)).UTC(),
		ClientIP:  field(5),
		Owner:     field(6),
		Module:    field(7),
	}
	if allowed := field(8); allowed != "" {
		snap.Allowed = strings.Split(allowed, ",")
	}
	return snap, ClaimTaken, time.Time{}, nil
}
