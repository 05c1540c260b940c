package ratelimit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Source names the bucket that made a decision.
type Source uint8

// Buckets a Shared decision can come from.
const (
	// SourceRedis is the bucket in Redis that every instance shares.
	SourceRedis Source = iota

	// SourceFallback is this instance's local bucket with its share of
	// the limit, used while Redis cannot be reached.
	SourceFallback
)

// String returns "redis" or "fallback".
func (s Source) String() string {
	if s == SourceRedis {
		return "redis"
	}
	return "fallback"
}

// DefaultRetryInterval is how long Shared skips Redis after a failed call
// before it tries again.
const DefaultRetryInterval = time.Second

// SharedConfig configures a Shared limiter.
type SharedConfig struct {
	// Bucket is the Redis bucket every instance shares. Required.
	Bucket *RedisBucket

	// Instances is the number of gateway instances that share the limit.
	// While Redis cannot be reached each instance enforces the limit
	// divided by Instances (see Limit.Split). Values below 1 mean 1.
	Instances int

	// RetryInterval is how long requests use the fallback after a failed
	// Redis call before one request tries Redis again. Zero means
	// DefaultRetryInterval.
	RetryInterval time.Duration

	// OnStateChange, when set, is called once each time Redis stops or
	// starts responding: with up false and the error, then with up true
	// and a nil error. It is called on the request path, so it must be
	// quick, and calls for two changes may overlap.
	OnStateChange func(up bool, err error)
}

// Shared enforces limits through the Redis bucket and falls back to a
// local bucket per key with Limit.Split(Instances) while Redis fails.
// After a failure it stops calling Redis for RetryInterval, so requests
// do not each wait for a timeout; then a single request tries Redis again
// while the others keep using the fallback. It is safe for concurrent
// use.
type Shared struct {
	cfg SharedConfig

	fallback sync.Map // key id -> *fallbackBucket

	down    atomic.Bool
	retryAt atomic.Int64 // Unix nanoseconds; Redis is skipped before it while down
	probing atomic.Bool
}

type fallbackBucket struct {
	limit   Limit
	limiter *rate.Limiter
}

// NewShared returns a Shared limiter. It panics when cfg.Bucket is nil.
func NewShared(cfg SharedConfig) *Shared {
	if cfg.Bucket == nil {
		panic("ratelimit: NewShared needs a Redis bucket")
	}
	if cfg.Instances < 1 {
		cfg.Instances = 1
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	return &Shared{cfg: cfg}
}

// Up reports whether the last Redis call succeeded. It is true before the
// first call.
func (s *Shared) Up() bool { return !s.down.Load() }

// Allow takes one request of keyID under limit l at now, from Redis when
// it responds and from the fallback bucket otherwise. A call whose ctx is
// canceled (the client went away) is decided by the fallback without
// marking Redis down.
func (s *Shared) Allow(ctx context.Context, keyID string, l Limit, now time.Time) (Result, Source) {
	probe, ok := s.tryRedis(now)
	if ok {
		res, err := s.cfg.Bucket.Allow(ctx, keyID, l)
		if probe {
			s.probing.Store(false)
		}
		if err == nil {
			s.markUp()
			return res, SourceRedis
		}
		if !errors.Is(err, context.Canceled) {
			s.markDown(now, err)
		}
	}
	return s.allowFallback(keyID, l, now), SourceFallback
}

// tryRedis reports whether this call may use Redis, and whether it is
// the single probe made while Redis is marked down.
func (s *Shared) tryRedis(now time.Time) (probe, ok bool) {
	if !s.down.Load() {
		return false, true
	}
	if now.UnixNano() < s.retryAt.Load() {
		return false, false
	}
	if s.probing.CompareAndSwap(false, true) {
		return true, true
	}
	return false, false
}

func (s *Shared) markUp() {
	if s.down.CompareAndSwap(true, false) && s.cfg.OnStateChange != nil {
		s.cfg.OnStateChange(true, nil)
	}
}

func (s *Shared) markDown(now time.Time, err error) {
	s.retryAt.Store(now.Add(s.cfg.RetryInterval).UnixNano())
	if s.down.CompareAndSwap(false, true) && s.cfg.OnStateChange != nil {
		s.cfg.OnStateChange(false, err)
	}
}

// allowFallback decides with the local bucket of keyID, replacing it when
// the key's limit changed.
func (s *Shared) allowFallback(keyID string, l Limit, now time.Time) Result {
	share := l.Split(s.cfg.Instances)
	if v, ok := s.fallback.Load(keyID); ok {
		if fb := v.(*fallbackBucket); fb.limit == share {
			return AllowLocal(fb.limiter, now)
		}
	}
	fb := &fallbackBucket{limit: share, limiter: rate.NewLimiter(rate.Limit(share.PerSecond), share.Burst)}
	s.fallback.Store(keyID, fb)
	return AllowLocal(fb.limiter, now)
}
