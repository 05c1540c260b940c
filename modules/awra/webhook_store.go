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
	// check and, on admitForward, takes the in-flight marker, counts the
	// attempt and stores the replay key, all in one atomic step. An error
	// means the state could not be read or written, and the caller must
	// not forward the delivery.
	begin(ctx context.Context, now time.Time, k *deliveryKeys) (admission, error)

	// delivered marks the event as delivered for k.window, after the
	// upstream accepted it.
	delivered(ctx context.Context, now time.Time, k *deliveryKeys) error

	// release undoes begin after a failed delivery: it removes the
	// in-flight marker if k.token still owns it, and the replay key, so
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
// the route settings that govern it.
type deliveryKeys struct {
	// replay is the key of the exact signed bytes, or "" when the scheme
	// signs no timestamp. It lives for replayTTL.
	replay    string
	replayTTL time.Duration

	// event holds the event's state: in-flight (with the owner's token)
	// or delivered.
	event string

	// count counts the delivery attempts of the event within window.
	count string

	// token identifies the request that owns the in-flight marker.
	token string

	window        time.Duration
	maxDeliveries int
}

// Marker values stored under deliveryKeys.event.
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
