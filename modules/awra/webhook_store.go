package awra

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// deliveryStore keeps the replay and duplicate state of webhook deliveries.
// It stores only key names built from digests and short marker values,
// never a body, a signature or a secret. Implementations are safe for
// concurrent use, and each method is atomic with respect to the others.
//
// The Redis implementation is shared by every gateway instance that uses
// the same Redis; the in-process one protects a single instance only.
type deliveryStore interface {
	// begin admits a verified delivery or returns why not. It runs every
	// check and, on admitForward, takes the in-flight markers, counts the
	// attempt and stores the replay keys, all in one atomic step. An error
	// means the state could not be read or written, and the caller must
	// not forward the delivery.
	begin(ctx context.Context, now time.Time, k *deliveryKeys) (admission, error)

	// delivered marks the event as delivered for k.window, after the
	// upstream accepted it.
	delivered(ctx context.Context, now time.Time, k *deliveryKeys) error

	// release undoes begin after a failed delivery: it removes each
	// in-flight marker that k.token still owns, and the replay keys, so
	// that the provider's retry goes through.
	release(ctx context.Context, now time.Time, k *deliveryKeys) error
}

// admission is the outcome of deliveryStore.begin.
type admission int

const (
	// admitForward: the delivery may go to the upstream.
	admitForward admission = iota
	// admitReplayed: the same signed bytes were admitted before, and
	// their replay key has not expired.
	admitReplayed
	// admitDuplicate: the event was already delivered successfully.
	admitDuplicate
	// admitInFlight: another delivery of the same event is at the
	// upstream right now.
	admitInFlight
	// admitLimitExceeded: the event has used up its delivery attempts
	// for the replay window.
	admitLimitExceeded
)

// deliveryKeys names the state of one delivery in a deliveryStore, with
// the route settings that govern it. A route with several secrets, as
// during a rotation, keeps the state of an event under the key prefix of
// each secret. The store checks the keys of every prefix and writes all
// of them, so that a delivery is judged the same whichever of the
// route's secrets verified it. events, counts and replays hold one key
// per secret, in the same order.
type deliveryKeys struct {
	// replays are the keys of the exact signed bytes, or nil when the
	// scheme signs no timestamp. They live for replayTTL.
	replays   []string
	replayTTL time.Duration

	// events hold the event's state: in-flight (with the owner's token)
	// or delivered.
	events []string

	// counts count the delivery attempts of the event within window.
	counts []string

	// token identifies the request that owns the in-flight marker.
	token string

	window        time.Duration
	maxDeliveries int
}

// newDeliveryKeys returns the keys of an event with duplicate digest dup
// and, unless replay is "", signed bytes with replay digest replay, under
// each of prefixes. The event's digest is the Redis Cluster hash tag of
// every key, so that the keys of one delivery share a slot, as the Lua
// scripts need.
func newDeliveryKeys(prefixes []string, dup, replay string) deliveryKeys {
	var k deliveryKeys
	k.events = make([]string, len(prefixes))
	k.counts = make([]string, len(prefixes))
	if replay != "" {
		k.replays = make([]string, len(prefixes))
	}
	for i, prefix := range prefixes {
		base := prefix + "{" + dup + "}:"
		k.events[i] = base + "e"
		k.counts[i] = base + "n"
		if replay != "" {
			k.replays[i] = base + "r:" + replay
		}
	}
	return k
}

// Marker values stored under deliveryKeys.events.
const (
	eventDelivered      = "delivered"
	eventInFlightPrefix = "in-flight:"
)

// inFlightTTL bounds how long an in-flight marker blocks other deliveries
// of the same event when the gateway stops before it can clear the marker.
// Providers give up on a delivery after 3 to 30 seconds, so a marker older
// than a minute no longer guards a request that the provider waits for.
const inFlightTTL = time.Minute

// replayClockSkew is added to a replay key's lifetime, because another
// instance whose clock runs behind still accepts the timestamp for that
// long after this instance stopped.
const replayClockSkew = time.Minute

// errStoreFull is returned by the in-process store when it holds its
// maximum number of entries and none has expired.
var errStoreFull = errors.New("the in-process webhook replay store is full; configure redis in the awra app to share a larger store")

// logThrottle lets through one log entry per interval and counts the ones
// it holds back, so that a Redis outage does not log every request.
type logThrottle struct {
	interval   time.Duration
	next       atomic.Int64 // Unix nanoseconds of the next allowed entry
	suppressed atomic.Int64
}

// allow reports whether an entry may be logged at now, and how many were
// held back since the last one that was.
func (lt *logThrottle) allow(now time.Time) (bool, int64) {
	next := lt.next.Load()
	if now.UnixNano() < next || !lt.next.CompareAndSwap(next, now.Add(lt.interval).UnixNano()) {
		lt.suppressed.Add(1)
		return false, 0
	}
	return true, lt.suppressed.Swap(0)
}

// log writes msg at Error level with err, unless the throttle holds it
// back.
func (lt *logThrottle) log(logger *zap.Logger, now time.Time, msg string, err error, fields ...zap.Field) {
	ok, suppressed := lt.allow(now)
	if !ok {
		return
	}
	fields = append(fields, zap.Error(err), zap.Int64("suppressed", suppressed))
	logger.Error(msg, fields...)
}
