package audit

import (
	"context"
	"crypto/rand"
	"fmt"
	bolt "go.etcd.io/bbolt"
	"testing"
	"time"

	"github.com/awra/awragate/internal/testredis"
	"github.com/awra/awragate/policy"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// testChainKey returns a fresh random chain key.
func testChainKey(t testing.TB) []byte {
	t.Helper()
	key := make([]byte, RecommendedChainKeyLen)
	if _, err := rand.Read(key); err != nil {
		t.Fatalf("generating a chain key: %v", err)
	}
	return key
}

// testConfig returns a configuration with short intervals for tests.
func testConfig(t testing.TB, redisURL string) Config {
	t.Helper()
	return Config{
		RedisURL:     redisURL,
		Stream:       DefaultStream,
		SpoolDir:     t.TempDir(),
		ChainKey:     testChainKey(t),
		Logger:       testLogger(t),
		PollInterval: 20 * time.Millisecond,
		MinBackoff:   10 * time.Millisecond,
		MaxBackoff:   200 * time.Millisecond,
		RedisTimeout: 500 * time.Millisecond,
		LockTimeout:  200 * time.Millisecond,
	}
}

// testLogger logs at Info and above to the test output; benchmarks get
// no logger.
func testLogger(t testing.TB) *zap.Logger {
	if _, ok := t.(*testing.B); ok {
		return zap.NewNop()
	}
	return zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
}

// mustOpen opens a pipeline and closes it at the end of the test unless the
// test closed it.
func mustOpen(t testing.TB, cfg Config) *Pipeline {
	t.Helper()
	p, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open() = %v, want nil", err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func mustClose(t testing.TB, p *Pipeline) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
}

func newClient(t testing.TB, srv *testredis.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// requestEvent returns a handler-style event numbered n.
func requestEvent(n int) *Event {
	return &Event{
		TS:        time.Date(2026, 1, 2, 3, 4, 5, n, time.UTC),
		RequestID: fmt.Sprintf("req-%d", n),
		Module:    ModuleAPIKey,
		Decision:  DecisionDeny,
		Reason:    policy.ReasonScopeMissing,
		Status:    403,
		KeyID:     "inventory-bot",
		ClientIP:  "203.0.113.7",
		PeerIP:    "10.0.0.2",
		Method:    "GET",
		Host:      "api.example.com",
		Path:      fmt.Sprintf("/api/inventory/%d", n),
		Scopes:    "inventory:read",
		LatencyUS: 12,
	}
}

// readStream returns every entry of the stream.
func readStream(t testing.TB, c redis.Cmdable, stream string) []Entry {
	t.Helper()
	var out []Entry
	err := ReadStream(context.Background(), c, stream, "", 0, func(e Entry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadStream(%s) = %v, want nil", stream, err)
	}
	return out
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitPublished waits until the spool holds seq wantLast or more and
// everything in it is in the stream.
func waitPublished(t testing.TB, p *Pipeline, wantLast uint64, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("seq %d to be spooled and published", wantLast), func() bool {
		s := p.Stats()
		return s.LastSeq >= wantLast && s.PublishedSeq == s.LastSeq
	})
}

// checkStream verifies the stream and checks that instance holds seqs
// 1..wantLast exactly once each. It returns the entries.
func checkStream(t testing.TB, c redis.Cmdable, stream string, key []byte, instance string, wantLast uint64) []Entry {
	t.Helper()
	entries := readStream(t, c, stream)
	rep, err := Verify(entries, key)
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	if !rep.OK() {
		t.Fatalf("Verify() found %d problems, first: %v", rep.ProblemCount, rep.Err())
	}

	seen := map[uint64]int{}
	for _, e := range entries {
		if e.Event.Instance == instance {
			seen[e.Event.Seq]++
		}
	}
	for seq := uint64(1); seq <= wantLast; seq++ {
		if seen[seq] != 1 {
			t.Fatalf("seq %d of instance %s appears %d times in the stream, want 1", seq, instance, seen[seq])
		}
	}
	if got := uint64(len(seen)); got != wantLast {
		t.Fatalf("instance %s has %d distinct seqs in the stream, want %d", instance, got, wantLast)
	}
	return entries
}

// countModule returns the number of entries of module m.
func countModule(entries []Entry, m Module) int {
	n := 0
	for _, e := range entries {
		if e.Event.Module == m {
			n++
		}
	}
	return n
}

// readSpool returns every event in the pipeline's spool as entries.
func readSpool(t testing.TB, p *Pipeline) []Entry {
	t.Helper()
	spooled, err := p.spool.readAfter(0, 1<<30, nil)
	if err != nil {
		t.Fatalf("reading the spool: %v", err)
	}
	out := make([]Entry, 0, len(spooled))
	for _, s := range spooled {
		fields := make(map[string]string, numFields)
		for i, name := range FieldNames {
			fields[name] = s.values[i]
		}
		out = append(out, NewEntry(fmt.Sprintf("spool-%d", s.seq), fields))
	}
	return out
}

// updateSpoolFile runs fn in a write transaction on the closed spool file
// at path, as a person or an older gateway would change it.
func updateSpoolFile(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bolt.Open(%s) = %v", path, err)
	}
	err = db.Update(fn)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("changing spool %s: %v", path, err)
	}
}
