package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/internal/testredis"
)

func newTestClient(t *testing.T, srv *testredis.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:                  srv.Addr(),
		DialTimeout:           200 * time.Millisecond,
		ReadTimeout:           200 * time.Millisecond,
		WriteTimeout:          200 * time.Millisecond,
		PoolTimeout:           200 * time.Millisecond,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisBucketBurstThenDeny(t *testing.T) {
	srv := testredis.Start(t)
	c := newTestClient(t, srv)
	b := NewRedisBucket(c, "")
	ctx := context.Background()
	l := Limit{PerSecond: 1, Burst: 3} // slow refill: the steps run well inside one interval

	for i, wantRemaining := range []int{2, 1, 0} {
		res, err := b.Allow(ctx, "burst-key", l)
		if err != nil {
			t.Fatalf("step %d: Allow: %v", i, err)
		}
		if !res.Allowed || res.Remaining != wantRemaining {
			t.Errorf("step %d: Allow = allowed %v remaining %d, want allowed true remaining %d", i, res.Allowed, res.Remaining, wantRemaining)
		}
		// The next request beyond the remaining ones needs at most one
		// interval of 1s.
		if res.ResetAfter <= 0 || res.ResetAfter > time.Second {
			t.Errorf("step %d: ResetAfter = %v, want within (0, 1s]", i, res.ResetAfter)
		}
	}

	res, err := b.Allow(ctx, "burst-key", l)
	if err != nil {
		t.Fatalf("Allow after the burst: %v", err)
	}
	if res.Allowed {
		t.Errorf("Allow after the burst = allowed, want denied")
	}
	if res.RetryAfter <= 0 || res.RetryAfter > time.Second {
		t.Errorf("Allow after the burst: RetryAfter = %v, want within (0, 1s]", res.RetryAfter)
	}
	if res.ResetAfter != res.RetryAfter {
		t.Errorf("Allow after the burst: ResetAfter = %v, want RetryAfter %v", res.ResetAfter, res.RetryAfter)
	}

	// Another key has its own bucket.
	other, err := b.Allow(ctx, "other-key", l)
	if err != nil || !other.Allowed {
		t.Errorf("Allow(other-key) = %+v, %v, want allowed", other, err)
	}
}

func TestRedisBucketKeyExpires(t *testing.T) {
	srv := testredis.Start(t)
	c := newTestClient(t, srv)
	b := NewRedisBucket(c, "test:rl:")
	ctx := context.Background()

	if _, err := b.Allow(ctx, "ttl-key", Limit{PerSecond: 10, Burst: 5}); err != nil {
		t.Fatalf("Allow: %v", err)
	}
	key := b.Key("ttl-key")
	if key != "test:rl:{ttl-key}" {
		t.Errorf("Key(ttl-key) = %q, want %q", key, "test:rl:{ttl-key}")
	}
	ttl, err := c.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	// One request into a 10/s bucket is refilled after 100ms.
	if ttl <= 0 || ttl > 100*time.Millisecond {
		t.Errorf("PTTL %s = %v, want within (0, 100ms]", key, ttl)
	}

	time.Sleep(150 * time.Millisecond)
	if n, err := c.Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS %s after the refill = %d, %v, want 0", key, n, err)
	}
}

// TestRedisBucketRate checks the admitted count of a bucket under steady
// overload from several goroutines, as several instances would send it.
func TestRedisBucketRate(t *testing.T) {
	srv := testredis.Start(t)
	c := newTestClient(t, srv)
	b := NewRedisBucket(c, "")
	l := Limit{PerSecond: 50, Burst: 10}

	const run = time.Second
	deadline := time.Now().Add(run)
	var mu sync.Mutex
	admitted := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				res, err := b.Allow(context.Background(), "rate-key", l)
				if err != nil {
					t.Errorf("Allow: %v", err)
					return
				}
				if res.Allowed {
					mu.Lock()
					admitted++
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	wg.Wait()

	want := int(l.PerSecond*run.Seconds()) + l.Burst
	if admitted < want*9/10 || admitted > want*11/10 {
		t.Errorf("admitted %d requests in %v at %v/s burst %d, want %d within 10%%", admitted, run, l.PerSecond, l.Burst, want)
	}
}

func TestSharedFallsBackAndRecovers(t *testing.T) {
	srv := testredis.Start(t)
	c := newTestClient(t, srv)

	var mu sync.Mutex
	var changes []bool
	s := NewShared(SharedConfig{
		Bucket:        NewRedisBucket(c, ""),
		Instances:     2,
		RetryInterval: 50 * time.Millisecond,
		OnStateChange: func(up bool, err error) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, up)
			if up != (err == nil) {
				t.Errorf("OnStateChange(%v, %v): want an error exactly when down", up, err)
			}
		},
	})
	l := Limit{PerSecond: 1, Burst: 4}
	ctx := context.Background()

	if _, src := s.Allow(ctx, "k", l, time.Now()); src != SourceRedis {
		t.Fatalf("Allow with Redis up: source = %v, want redis", src)
	}

	srv.Kill()
	now := time.Now()
	// The fallback bucket holds half the burst: two requests, then denial.
	var got []bool
	for range 3 {
		res, src := s.Allow(ctx, "k", l, now)
		if src != SourceFallback {
			t.Errorf("Allow with Redis down: source = %v, want fallback", src)
		}
		got = append(got, res.Allowed)
	}
	if want := []bool{true, true, false}; !equalBools(got, want) {
		t.Errorf("fallback decisions = %v, want %v", got, want)
	}
	if s.Up() {
		t.Errorf("Up() with Redis down = true, want false")
	}

	srv.Restart(t)
	// The retry interval has to pass before a request probes Redis.
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, src := s.Allow(ctx, "k", l, time.Now())
		if src == SourceRedis {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis is back, but Allow still uses the fallback after 2s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	if want := []bool{false, true}; !equalBools(changes, want) {
		t.Errorf("state changes = %v, want %v (one per change)", changes, want)
	}
}

func TestSharedCanceledRequestKeepsRedisUp(t *testing.T) {
	srv := testredis.Start(t)
	c := newTestClient(t, srv)
	changed := false
	s := NewShared(SharedConfig{
		Bucket:        NewRedisBucket(c, ""),
		OnStateChange: func(bool, error) { changed = true },
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	res, src := s.Allow(ctx, "k", Limit{PerSecond: 1, Burst: 1}, time.Now())
	if src != SourceFallback || !res.Allowed {
		t.Errorf("Allow(canceled ctx) = %+v, %v, want allowed by the fallback", res, src)
	}
	if changed || !s.Up() {
		t.Errorf("a canceled request marked Redis down")
	}
}

func TestRedisBucketUnreachable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	_, err := NewRedisBucket(c, "").Allow(context.Background(), "k", Limit{PerSecond: 1, Burst: 1})
	if err == nil {
		t.Fatal("Allow with no server = nil error, want an error")
	}
	var netErr interface{ Timeout() bool }
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Errorf("Allow with no server timed out, want connection refused: %v", err)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func BenchmarkRedisBucket(b *testing.B) {
	srv := testredis.Start(b)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	b.Cleanup(func() { c.Close() })
	bucket := NewRedisBucket(c, "")
	l := Limit{PerSecond: 1e6, Burst: 1000}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bucket.Allow(ctx, "bench-key", l); err != nil {
			b.Fatal(err)
		}
	}
}
