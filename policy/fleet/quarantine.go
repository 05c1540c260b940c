package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/alert"
)

// ReasonQuarantineLifted is the audit reason of the admin event written
// when a key's quarantine is lifted.
const ReasonQuarantineLifted policy.Reason = "key_quarantine_lifted"

// QuarantineRecord is the value stored for a quarantined key.
type QuarantineRecord struct {
	Since    time.Time `json:"since"`
	Count    int       `json:"count"`
	Window   string    `json:"window"`
	Instance string    `json:"instance"`
}

// countLua counts one bypass denial of a key in a sliding window and
// quarantines the key when the window holds the threshold. The window
// keeps at most the threshold's number of entries and expires with the
// window, so its size stays bounded.
//
// KEYS[1] is the key's count set and KEYS[2] QuarantineHash. ARGV: now
// (ms), window (ms), threshold, a unique member, key id, the quarantine
// record, the channel and the event. It returns {-1, 0} when the key is
// already quarantined, {1, count} when this call quarantined it, and
// {0, count} otherwise.
const countLua = `
if redis.call('HEXISTS', KEYS[2], ARGV[5]) == 1 then
  return {-1, 0}
end
local now = tonumber(ARGV[1])
local after = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(after + 1))
local n = redis.call('ZCARD', KEYS[1])
if n >= after then
  redis.call('HSET', KEYS[2], ARGV[5], ARGV[6])
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[7], ARGV[8])
  return {1, n}
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {0, n}
`

// liftLua removes a key's quarantine and its count and publishes the
// change. KEYS[1] is QuarantineHash and KEYS[2] the count set; ARGV: key
// id, channel, event. It returns 1 when the key was quarantined.
const liftLua = `
local n = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return n
`

var (
	countScript = redis.NewScript(countLua)
	liftScript  = redis.NewScript(liftLua)
)

// Quarantine counts bypass denials of API keys across the fleet and
// quarantines a key that collects After of them within Window. It
// implements alert.Quarantiner and is safe for concurrent use.
type Quarantine struct {
	client   redis.Cmdable
	after    int
	window   time.Duration
	instance string
}

// NewQuarantine returns a counter in client for the rule "after denials
// within window"; instance names this gateway in quarantine records.
func NewQuarantine(client redis.Cmdable, after int, window time.Duration, instance string) *Quarantine {
	return &Quarantine{client: client, after: max(1, after), window: window, instance: instance}
}

// countKey returns the Redis key of the count set of keyID.
func countKey(keyID string) string {
	return QuarantineCount + "{" + keyID + "}"
}

// CountBypass implements alert.Quarantiner.
func (q *Quarantine) CountBypass(ctx context.Context, keyID string, now time.Time) (alert.QuarantineResult, error) {
	rec, err := json.Marshal(QuarantineRecord{Since: now.UTC(), Count: q.after, Window: q.window.String(), Instance: q.instance})
	if err != nil {
		return alert.QuarantineResult{}, err
	}
	event := Event{V: EventVersion, Op: OpQuarantine, KeyID: keyID, Instance: q.instance}.Encode()

	reply, err := countScript.Run(ctx, q.client, []string{countKey(keyID), QuarantineHash},
		now.UnixMilli(), q.window.Milliseconds(), q.after, uniqueMember(q.instance, now),
		keyID, rec, QuarantineChannel, event).Int64Slice()
	if err != nil {
		return alert.QuarantineResult{}, fmt.Errorf("counting a bypass denial of key '%s': %w", keyID, err)
	}
	if len(reply) != 2 {
		return alert.QuarantineResult{}, fmt.Errorf("counting a bypass denial of key '%s': got %d values, want 2", keyID, len(reply))
	}
	return alert.QuarantineResult{Count: int(reply[1]), Quarantined: reply[0] == 1}, nil
}

// uniqueMember returns a member for the count set that no other denial
// uses, even at the same millisecond on another instance.
func uniqueMember(instance string, now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return instance + ":" + strconv.FormatInt(now.UnixNano(), 36) + ":" + hex.EncodeToString(b[:])
}

// Lift removes the quarantine of keyID and publishes the change to every
// instance. It reports whether the key was quarantined.
func Lift(ctx context.Context, client redis.Cmdable, keyID string) (bool, error) {
	if !policy.ValidKeyID(keyID) {
		return false, fmt.Errorf("invalid key id '%s': use 1 to %d characters of a-z, 0-9 and '-'", printable(keyID), policy.MaxKeyIDLength)
	}
	event := Event{V: EventVersion, Op: OpLift, KeyID: keyID}.Encode()
	n, err := liftScript.Run(ctx, client, []string{QuarantineHash, countKey(keyID)},
		keyID, QuarantineChannel, event).Int64()
	if err != nil {
		return false, fmt.Errorf("lifting the quarantine of key '%s': %w", keyID, err)
	}
	return n == 1, nil
}

// Quarantined returns every quarantined key. Entries that are not valid
// records still count as quarantined, with a zero record, so that a
// damaged value never frees a key.
func Quarantined(ctx context.Context, client redis.Cmdable) (map[string]QuarantineRecord, error) {
	all, err := client.HGetAll(ctx, QuarantineHash).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the quarantined keys: %w", err)
	}
	out := make(map[string]QuarantineRecord, len(all))
	for id, raw := range all {
		var rec QuarantineRecord
		_ = json.Unmarshal([]byte(raw), &rec)
		out[id] = rec
	}
	return out, nil
}
