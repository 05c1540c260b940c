package awra

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/internal/testredis"
)

// storeUnderTest is one deliveryStore implementation with a clock that
// its expiries follow: virtual for the in-process store, real for Redis.
type storeUnderTest struct {
	name    string
	store   deliveryStore
	now     func() time.Time
	advance func(d time.Duration)
}

// storesUnderTest returns a fresh in-process store and a store on a fresh
// redis-server, so each conformance test runs against both.
func storesUnderTest(t *testing.T) []storeUnderTest {
	t.Helper()
	var virtual atomic.Int64
	virtual.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())

	srv := testredis.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { client.Close() })

	return []storeUnderTest{
		{
			name:    "memory",
			store:   newMemoryDeliveryStore(1000),
			now:     func() time.Time { return time.Unix(0, virtual.Load()) },
			advance: func(d time.Duration) { virtual.Add(int64(d)) },
		},
		{
			name:    "redis",
			store:   redisDeliveryStore{client: client},
			now:     time.Now,
			advance: time.Sleep,
		},
	}
}

var testKeySeq atomic.Int64

// testDeliveryKeys returns keys of a new event, with a replay key when
// timestamped, on a route allowing maxDeliveries attempts.
func testDeliveryKeys(timestamped bool, maxDeliveries int) deliveryKeys {
	n := strconv.FormatInt(testKeySeq.Add(1), 10)
	k := deliveryKeys{
		event:         "test:{route}:e:" + n,
		count:         "test:{route}:n:" + n,
		token:         "request-" + n,
		window:        time.Hour,
		maxDeliveries: maxDeliveries,
	}
	if timestamped {
		k.replay = "test:{route}:r:" + n
		k.replayTTL = time.Hour
	}
	return k
}

// withReplay returns k with another replay key, as a delivery of the same
// event signed at another time has, and another request's token.
func withReplay(k deliveryKeys) deliveryKeys {
	n := strconv.FormatInt(testKeySeq.Add(1), 10)
	k.replay = "test:{route}:r:" + n
	k.replayTTL = time.Hour
	k.token = "request-" + n
	return k
}

// storeStep is one call in a conformance sequence.
type storeStep struct {
	op   string // begin, delivered, release
	keys *deliveryKeys
	want admission // for begin
}

func runStoreSteps(t *testing.T, s storeUnderTest, steps []storeStep) {
	t.Helper()
	ctx := context.Background()
	for i, st := range steps {
		var err error
		switch st.op {
		case "begin":
			var got admission
			got, err = s.store.begin(ctx, s.now(), st.keys)
			if err == nil && got != st.want {
				t.Fatalf("step %d: begin(%s) = %d, want %d", i, st.keys.token, got, st.want)
			}
		case "delivered":
			err = s.store.delivered(ctx, s.now(), st.keys)
		case "release":
			err = s.store.release(ctx, s.now(), st.keys)
		}
		if err != nil {
			t.Fatalf("step %d: %s: %v", i, st.op, err)
		}
	}
}

func TestDeliveryStoreSequences(t *testing.T) {
	for _, s := range storesUnderTest(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Run("first delivery forwarded, copy in flight", func(t *testing.T) {
				k := testDeliveryKeys(true, 10)
				other := withReplay(k)
				runStoreSteps(t, s, []storeStep{
					{op: "begin", keys: &k, want: admitForward},
					{op: "begin", keys: &other, want: admitInFlight},
				})
			})
			t.Run("same signed bytes again are a replay", func(t *testing.T) {
				k := testDeliveryKeys(true, 10)
				runStoreSteps(t, s, []storeStep{
					{op: "begin", keys: &k, want: admitForward},
					{op: "begin", keys: &k, want: admitReplayed},
					{op: "delivered", keys: &k},
					{op: "begin", keys: &k, want: admitReplayed},
				})
			})
			t.Run("delivered event is a duplicate", func(t *testing.T) {
				k := testDeliveryKeys(true, 10)
				retry := withReplay(k)
				runStoreSteps(t, s, []storeStep{
					{op: "begin", keys: &k, want: admitForward},
					{op: "delivered", keys: &k},
					{op: "begin", keys: &retry, want: admitDuplicate},
					// The duplicate stored its replay key.
					{op: "begin", keys: &retry, want: admitReplayed},
				})
			})
			t.Run("event without timestamp", func(t *testing.T) {
				k := testDeliveryKeys(false, 10)
				runStoreSteps(t, s, []storeStep{
					{op: "begin", keys: &k, want: admitForward},
					{op: "begin", keys: &k, want: admitInFlight},
					{op: "delivered", keys: &k},
					{op: "begin", keys: &k, want: admitDuplicate},
				})
			})
			t.Run("release lets the same bytes through", func(t *testing.T) {
				k := testDeliveryKeys(true, 10)
				runStoreSteps(t, s, []storeStep{
					{op: "begin", keys: &k, want: admitForward},
					{op: "release", keys: &k},
					{op: "begin", keys: &k, want: admitForward},
				})
			})
			t.Run("release keeps another request's marker", func(t *testing.T) {
				k := testDeliveryKeys(false, 10)
				stranger := k
				stranger.token = "someone-else"
				runStoreSteps(t, s, []storeStep{
					{op: "begin", keys: &k, want: admitForward},
					{op: "release", keys: &stranger},
					{op: "begin", keys: &k, want: admitInFlight},
				})
			})
			t.Run("attempts beyond the limit", func(t *testing.T) {
				k := testDeliveryKeys(true, 2)
				runStoreSteps(t, s, []storeStep{
					{op: "begin", keys: &k, want: admitForward},
					{op: "release", keys: &k},
					{op: "begin", keys: &k, want: admitForward},
					{op: "release", keys: &k},
					{op: "begin", keys: &k, want: admitLimitExceeded},
					{op: "begin", keys: &k, want: admitLimitExceeded},
				})
			})
			t.Run("duplicate is not counted", func(t *testing.T) {
				k := testDeliveryKeys(false, 1)
				runStoreSteps(t, s, []storeStep{
					{op: "begin", keys: &k, want: admitForward},
					{op: "delivered", keys: &k},
					{op: "begin", keys: &k, want: admitDuplicate},
					{op: "begin", keys: &k, want: admitDuplicate},
				})
			})
		})
	}
}

func TestDeliveryStoreExpiry(t *testing.T) {
	const ttl = 80 * time.Millisecond
	for _, s := range storesUnderTest(t) {
		t.Run(s.name, func(t *testing.T) {
			replay := testDeliveryKeys(true, 10)
			replay.replayTTL = ttl
			delivered := testDeliveryKeys(false, 10)
			delivered.window = ttl
			limited := testDeliveryKeys(false, 1)
			limited.window = ttl

			runStoreSteps(t, s, []storeStep{
				{op: "begin", keys: &replay, want: admitForward},
				{op: "delivered", keys: &replay},
				{op: "begin", keys: &delivered, want: admitForward},
				{op: "delivered", keys: &delivered},
				{op: "begin", keys: &limited, want: admitForward},
				{op: "release", keys: &limited},
				{op: "begin", keys: &limited, want: admitLimitExceeded},
			})
			s.advance(2 * ttl)

			// The replay key expired, but the event is still delivered.
			runStoreSteps(t, s, []storeStep{
				{op: "begin", keys: &replay, want: admitDuplicate},
				{op: "begin", keys: &delivered, want: admitForward},
				{op: "begin", keys: &limited, want: admitForward},
			})
		})
	}
}

// TestDeliveryStoreConcurrentBegin checks that of many copies of one event
// admitted at once, exactly one is forwarded.
func TestDeliveryStoreConcurrentBegin(t *testing.T) {
	for _, s := range storesUnderTest(t) {
		t.Run(s.name, func(t *testing.T) {
			base := testDeliveryKeys(true, 100)
			const copies = 32
			var forwarded, inFlight atomic.Int64
			var wg sync.WaitGroup
			for range copies {
				k := withReplay(base)
				wg.Go(func() {
					got, err := s.store.begin(context.Background(), s.now(), &k)
					switch {
					case err != nil:
						t.Errorf("begin: %v", err)
					case got == admitForward:
						forwarded.Add(1)
					case got == admitInFlight:
						inFlight.Add(1)
					}
				})
			}
			wg.Wait()
			if got := forwarded.Load(); got != 1 {
				t.Errorf("forwarded copies = %d, want 1", got)
			}
			if got := inFlight.Load(); got != copies-1 {
				t.Errorf("in-flight copies = %d, want %d", got, copies-1)
			}
		})
	}
}

func TestRedisDeliveryStoreDown(t *testing.T) {
	srv := testredis.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { client.Close() })
	store := redisDeliveryStore{client: client}
	k := testDeliveryKeys(true, 10)
	ctx := context.Background()

	srv.Kill()
	if _, err := store.begin(ctx, time.Now(), &k); err == nil {
		t.Error("begin with Redis down = nil error, want an error")
	}
	if err := store.delivered(ctx, time.Now(), &k); err == nil {
		t.Error("delivered with Redis down = nil error, want an error")
	}
	if err := store.release(ctx, time.Now(), &k); err == nil {
		t.Error("release with Redis down = nil error, want an error")
	}

	// A restarted, empty server loads the scripts again (NOSCRIPT).
	srv.Restart(t)
	if got, err := store.begin(ctx, time.Now(), &k); err != nil || got != admitForward {
		t.Errorf("begin after restart = %d, %v, want %d, nil", got, err, admitForward)
	}
}

func TestRedisDeliveryStoreKeepsNoBody(t *testing.T) {
	srv := testredis.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { client.Close() })
	store := redisDeliveryStore{client: client}
	ctx := context.Background()

	k := testDeliveryKeys(true, 10)
	if _, err := store.begin(ctx, time.Now(), &k); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{k.event: eventInFlightPrefix + k.token, k.count: "1", k.replay: "1"} {
		got, err := client.Get(ctx, key).Result()
		if err != nil || got != want {
			t.Errorf("GET %s = %q, %v, want %q", key, got, err, want)
		}
		ttl, err := client.PTTL(ctx, key).Result()
		if err != nil || ttl <= 0 {
			t.Errorf("PTTL %s = %v, %v, want a positive expiry", key, ttl, err)
		}
	}
	if err := store.delivered(ctx, time.Now(), &k); err != nil {
		t.Fatal(err)
	}
	if got, _ := client.Get(ctx, k.event).Result(); got != eventDelivered {
		t.Errorf("GET %s after delivered = %q, want %q", k.event, got, eventDelivered)
	}
}

func TestMemoryDeliveryStoreFull(t *testing.T) {
	s := newMemoryDeliveryStore(4)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()

	a, b, c := testDeliveryKeys(true, 10), testDeliveryKeys(true, 10), testDeliveryKeys(true, 10)
	a.replayTTL, b.replayTTL = time.Second, time.Second
	a.window, b.window = time.Second, time.Second
	for _, k := range []*deliveryKeys{&a, &b} {
		if got, err := s.begin(ctx, now, k); err != nil || got != admitForward {
			t.Fatalf("begin(%s) = %d, %v, want %d, nil", k.token, got, err, admitForward)
		}
	}
	if _, err := s.begin(ctx, now, &c); !errors.Is(err, errStoreFull) {
		t.Fatalf("begin on a full store = %v, want errStoreFull", err)
	}

	// Once the first entries expire, a forced sweep makes room.
	later := now.Add(2 * inFlightTTL)
	if got, err := s.begin(ctx, later, &c); err != nil || got != admitForward {
		t.Errorf("begin after expiry = %d, %v, want %d, nil", got, err, admitForward)
	}
}

func TestLogThrottle(t *testing.T) {
	lt := &logThrottle{interval: 10 * time.Second}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at             time.Duration
		wantAllow      bool
		wantSuppressed int64
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{9 * time.Second, false, 0},
		{10 * time.Second, true, 2},
		{11 * time.Second, false, 0},
		{30 * time.Second, true, 1},
	}
	for i, st := range steps {
		ok, suppressed := lt.allow(start.Add(st.at))
		if ok != st.wantAllow || suppressed != st.wantSuppressed {
			t.Errorf("step %d: allow(+%v) = %v, %d, want %v, %d", i, st.at, ok, suppressed, st.wantAllow, st.wantSuppressed)
		}
	}
}
