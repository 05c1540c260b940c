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

// Key prefixes of the store tests, as storeKeyPrefixes returns for the
// secrets of a route: secretA and secretB, as during a rotation, and
// secretC of another route.
const (
	secretA = "test:a:"
	secretB = "test:b:"
	secretC = "test:c:"
)

// testDelivery is a delivery of the store tests: the digest of its event
// and, when timestamped, the digest of its signed bytes.
type testDelivery struct {
	dup, replay   string
	maxDeliveries int
}

// newTestDelivery returns a delivery of a new event on a route allowing
// maxDeliveries attempts.
func newTestDelivery(timestamped bool, maxDeliveries int) testDelivery {
	d := testDelivery{dup: "event-" + strconv.FormatInt(testKeySeq.Add(1), 10), maxDeliveries: maxDeliveries}
	if timestamped {
		d.replay = "bytes-" + strconv.FormatInt(testKeySeq.Add(1), 10)
	}
	return d
}

// resigned returns a delivery of the same event signed at another time.
func (d testDelivery) resigned() testDelivery {
	d.replay = "bytes-" + strconv.FormatInt(testKeySeq.Add(1), 10)
	return d
}

// keys returns d's keys on a route with the secrets of prefixes (secretA
// alone when none is given), for a new request.
func (d testDelivery) keys(prefixes ...string) deliveryKeys {
	if len(prefixes) == 0 {
		prefixes = []string{secretA}
	}
	k := newDeliveryKeys(prefixes, d.dup, d.replay)
	k.token = "request-" + strconv.FormatInt(testKeySeq.Add(1), 10)
	k.window = time.Hour
	k.maxDeliveries = d.maxDeliveries
	if d.replay != "" {
		k.replayTTL = time.Hour
	}
	return k
}

// testDeliveryKeys returns keys of a new event on a route with one
// secret, with replay keys when timestamped, allowing maxDeliveries
// attempts.
func testDeliveryKeys(timestamped bool, maxDeliveries int) deliveryKeys {
	return newTestDelivery(timestamped, maxDeliveries).keys()
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
				d := newTestDelivery(true, 10)
				k, other := d.keys(), d.resigned().keys()
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
				d := newTestDelivery(true, 10)
				k, retry := d.keys(), d.resigned().keys()
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

// TestDeliveryStoreRotation checks a route with several secrets: the
// state of a delivery is found whichever of the route's secrets verifies
// a copy of it, as when a copy keeps only one signature of a rotation.
func TestDeliveryStoreRotation(t *testing.T) {
	// Each case makes its keys when called, so that every store under
	// test starts from events it has not seen.
	cases := []struct {
		name  string
		steps func() []storeStep
	}{
		{"copy with one signature is a replay", func() []storeStep {
			d := newTestDelivery(true, 10)
			both, onlyA, onlyB := d.keys(secretA, secretB), d.keys(secretA), d.keys(secretB)
			return []storeStep{
				{op: "begin", keys: &both, want: admitForward},
				{op: "begin", keys: &both, want: admitReplayed},
				{op: "begin", keys: &onlyB, want: admitReplayed},
				{op: "begin", keys: &onlyA, want: admitReplayed},
				{op: "delivered", keys: &both},
				{op: "begin", keys: &onlyB, want: admitReplayed},
				{op: "begin", keys: &onlyA, want: admitReplayed},
			}
		}},
		{"secrets in either order", func() []storeStep {
			d := newTestDelivery(true, 10)
			ab, ba := d.keys(secretA, secretB), d.keys(secretB, secretA)
			return []storeStep{
				{op: "begin", keys: &ab, want: admitForward},
				{op: "begin", keys: &ba, want: admitReplayed},
			}
		}},
		{"copy with one signature is in flight", func() []storeStep {
			d := newTestDelivery(true, 10)
			both, retryB := d.keys(secretA, secretB), d.resigned().keys(secretB)
			return []storeStep{
				{op: "begin", keys: &both, want: admitForward},
				{op: "begin", keys: &retryB, want: admitInFlight},
			}
		}},
		{"delivered event is a duplicate under each secret", func() []storeStep {
			d := newTestDelivery(true, 10)
			both := d.keys(secretA, secretB)
			retry := d.resigned()
			retryA, retryB, retryAgainB := retry.keys(secretA), retry.keys(secretB), retry.keys(secretB)
			return []storeStep{
				{op: "begin", keys: &both, want: admitForward},
				{op: "delivered", keys: &both},
				{op: "begin", keys: &retryB, want: admitDuplicate},
				// The duplicate stored the replay key under secretB,
				// and the copy under secretA finds the event.
				{op: "begin", keys: &retryAgainB, want: admitReplayed},
				{op: "begin", keys: &retryA, want: admitDuplicate},
			}
		}},
		{"duplicate stores every replay key", func() []storeStep {
			d := newTestDelivery(true, 10)
			first := d.keys(secretA, secretB)
			retry := d.resigned()
			retryBoth, retryA := retry.keys(secretA, secretB), retry.keys(secretA)
			return []storeStep{
				{op: "begin", keys: &first, want: admitForward},
				{op: "delivered", keys: &first},
				{op: "begin", keys: &retryBoth, want: admitDuplicate},
				{op: "begin", keys: &retryA, want: admitReplayed},
			}
		}},
		{"event without timestamp under one secret", func() []storeStep {
			d := newTestDelivery(false, 10)
			both, onlyA, onlyB := d.keys(secretA, secretB), d.keys(secretA), d.keys(secretB)
			return []storeStep{
				{op: "begin", keys: &both, want: admitForward},
				{op: "begin", keys: &onlyB, want: admitInFlight},
				{op: "delivered", keys: &both},
				{op: "begin", keys: &onlyB, want: admitDuplicate},
				{op: "begin", keys: &onlyA, want: admitDuplicate},
			}
		}},
		{"release clears every secret", func() []storeStep {
			d := newTestDelivery(true, 10)
			both, onlyA, onlyB := d.keys(secretA, secretB), d.keys(secretA), d.keys(secretB)
			return []storeStep{
				{op: "begin", keys: &both, want: admitForward},
				{op: "release", keys: &both},
				{op: "begin", keys: &onlyB, want: admitForward},
				{op: "release", keys: &onlyB},
				{op: "begin", keys: &onlyA, want: admitForward},
			}
		}},
		{"release keeps another request's markers", func() []storeStep {
			d := newTestDelivery(false, 10)
			both, retryA, retryB := d.keys(secretA, secretB), d.keys(secretA), d.keys(secretB)
			stranger := both
			stranger.token = "someone-else"
			return []storeStep{
				{op: "begin", keys: &both, want: admitForward},
				{op: "release", keys: &stranger},
				{op: "begin", keys: &retryA, want: admitInFlight},
				{op: "begin", keys: &retryB, want: admitInFlight},
			}
		}},
		{"attempts are counted across secrets", func() []storeStep {
			d := newTestDelivery(true, 3)
			onlyA, onlyB := d.keys(secretA), d.resigned().keys(secretB)
			both, reversed := d.resigned().keys(secretA, secretB), d.resigned().keys(secretB, secretA)
			return []storeStep{
				// Two attempts under secretA, one under secretB: the
				// next is attempt 3 under both, not 2 under secretB.
				{op: "begin", keys: &onlyA, want: admitForward},
				{op: "release", keys: &onlyA},
				{op: "begin", keys: &onlyA, want: admitForward},
				{op: "release", keys: &onlyA},
				{op: "begin", keys: &onlyB, want: admitForward},
				{op: "release", keys: &onlyB},
				{op: "begin", keys: &both, want: admitForward},
				{op: "release", keys: &both},
				{op: "begin", keys: &reversed, want: admitLimitExceeded},
				{op: "begin", keys: &onlyB, want: admitLimitExceeded},
				{op: "begin", keys: &onlyA, want: admitLimitExceeded},
			}
		}},
		{"a rotation that adds a secret keeps the state", func() []storeStep {
			d := newTestDelivery(false, 10)
			before, after, afterOld := d.keys(secretA), d.keys(secretB, secretA), d.keys(secretA)
			return []storeStep{
				{op: "begin", keys: &before, want: admitForward},
				{op: "delivered", keys: &before},
				{op: "begin", keys: &after, want: admitDuplicate},
				{op: "begin", keys: &afterOld, want: admitDuplicate},
			}
		}},
		{"another route's secret shares nothing", func() []storeStep {
			d := newTestDelivery(true, 10)
			route, other := d.keys(secretA, secretB), d.keys(secretC)
			return []storeStep{
				{op: "begin", keys: &route, want: admitForward},
				{op: "begin", keys: &other, want: admitForward},
			}
		}},
	}
	for _, s := range storesUnderTest(t) {
		for _, c := range cases {
			t.Run(s.name+"/"+c.name, func(t *testing.T) {
				runStoreSteps(t, s, c.steps())
			})
		}
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
			base := newTestDelivery(true, 100)
			const copies = 32
			var forwarded, inFlight atomic.Int64
			var wg sync.WaitGroup
			for i := range copies {
				// Half of the copies list the secrets of the route in
				// the other order.
				prefixes := [][]string{{secretA, secretB}, {secretB, secretA}}[i%2]
				k := base.resigned().keys(prefixes...)
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

	k := newTestDelivery(true, 10).keys(secretA, secretB)
	if _, err := store.begin(ctx, time.Now(), &k); err != nil {
		t.Fatal(err)
	}
	want := make(map[string]string)
	for i := range k.events {
		want[k.events[i]] = eventInFlightPrefix + k.token
		want[k.counts[i]] = "1"
		want[k.replays[i]] = "1"
	}
	for key, value := range want {
		got, err := client.Get(ctx, key).Result()
		if err != nil || got != value {
			t.Errorf("GET %s = %q, %v, want %q", key, got, err, value)
		}
		ttl, err := client.PTTL(ctx, key).Result()
		if err != nil || ttl <= 0 {
			t.Errorf("PTTL %s = %v, %v, want a positive expiry", key, ttl, err)
		}
	}
	if n, err := client.DBSize(ctx).Result(); err != nil || n != int64(len(want)) {
		t.Errorf("DBSIZE = %d, %v, want %d", n, err, len(want))
	}
	if err := store.delivered(ctx, time.Now(), &k); err != nil {
		t.Fatal(err)
	}
	for _, key := range k.events {
		if got, _ := client.Get(ctx, key).Result(); got != eventDelivered {
			t.Errorf("GET %s after delivered = %q, want %q", key, got, eventDelivered)
		}
	}
}

// TestRedisDeliveryStoreCounterExpiry checks that an attempt counter that
// exists keeps its expiry when a rotation adds a secret, and that the new
// secret's counter gets the whole window.
func TestRedisDeliveryStoreCounterExpiry(t *testing.T) {
	srv := testredis.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { client.Close() })
	store := redisDeliveryStore{client: client}
	ctx := context.Background()

	d := newTestDelivery(false, 10)
	before := d.keys(secretA)
	before.window = time.Minute
	after := d.keys(secretA, secretB)
	after.window = time.Hour
	for _, k := range []*deliveryKeys{&before, &after} {
		if got, err := store.begin(ctx, time.Now(), k); err != nil || got != admitForward {
			t.Fatalf("begin(%s) = %d, %v, want %d, nil", k.token, got, err, admitForward)
		}
		if err := store.release(ctx, time.Now(), k); err != nil {
			t.Fatal(err)
		}
	}
	for i, maxTTL := range []time.Duration{time.Minute, time.Hour} {
		key := after.counts[i]
		if got, err := client.Get(ctx, key).Result(); err != nil || got != "2" {
			t.Errorf("GET %s = %q, %v, want 2", key, got, err)
		}
		ttl, err := client.PTTL(ctx, key).Result()
		if err != nil || ttl <= maxTTL-10*time.Second || ttl > maxTTL {
			t.Errorf("PTTL %s = %v, %v, want just under %v", key, ttl, err, maxTTL)
		}
	}
}

// TestMemoryDeliveryStoreCounterExpiry is the in-process counterpart of
// TestRedisDeliveryStoreCounterExpiry.
func TestMemoryDeliveryStoreCounterExpiry(t *testing.T) {
	s := newMemoryDeliveryStore(100)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()

	d := newTestDelivery(false, 10)
	before := d.keys(secretA)
	before.window = time.Minute
	after := d.keys(secretA, secretB)
	after.window = time.Hour
	for _, k := range []*deliveryKeys{&before, &after} {
		if got, err := s.begin(ctx, now, k); err != nil || got != admitForward {
			t.Fatalf("begin(%s) = %d, %v, want %d, nil", k.token, got, err, admitForward)
		}
		if err := s.release(ctx, now, k); err != nil {
			t.Fatal(err)
		}
	}
	for i, window := range []time.Duration{time.Minute, time.Hour} {
		ev := s.events[after.events[i]]
		if ev == nil || ev.count != 2 || !ev.countExpires.Equal(now.Add(window)) {
			t.Errorf("event %d = %+v, want count 2 expiring after %v", i, ev, window)
		}
	}
}

// TestMemoryDeliveryStoreFullRotation checks the entry accounting of a
// route with several secrets: begin either stores every key of a
// delivery or, when they do not fit, none of them.
func TestMemoryDeliveryStoreFullRotation(t *testing.T) {
	s := newMemoryDeliveryStore(5)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()

	d := newTestDelivery(true, 10)
	first := d.keys(secretA, secretB)
	if got, err := s.begin(ctx, now, &first); err != nil || got != admitForward {
		t.Fatalf("begin = %d, %v, want %d, nil", got, err, admitForward)
	}
	if s.size() != 4 {
		t.Fatalf("entries after one delivery under two secrets = %d, want 4", s.size())
	}
	second := newTestDelivery(true, 10).keys(secretA, secretB)
	if _, err := s.begin(ctx, now, &second); !errors.Is(err, errStoreFull) {
		t.Fatalf("begin on a full store = %v, want errStoreFull", err)
	}
	if s.size() != 4 {
		t.Errorf("entries after a refused begin = %d, want 4", s.size())
	}

	// A duplicate stores the replay key under each secret, or fails.
	if err := s.delivered(ctx, now, &first); err != nil {
		t.Fatal(err)
	}
	retry := d.resigned().keys(secretA, secretB)
	if _, err := s.begin(ctx, now, &retry); !errors.Is(err, errStoreFull) {
		t.Errorf("duplicate on a full store = %v, want errStoreFull", err)
	}
	if s.size() != 4 {
		t.Errorf("entries after a refused duplicate = %d, want 4", s.size())
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
