package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awra/awragate/internal/testredis"
	bolt "go.etcd.io/bbolt"
)

func TestPipelinePublishesConcurrentEvents(t *testing.T) {
	srv := testredis.Start(t)
	client := newClient(t, srv)
	const workers, perWorker = 8, 2500
	cfg := testConfig(t, srv.URL())
	// The workers enqueue far faster than any gateway, and the test needs
	// every event, so the whole burst must fit in the queue.
	cfg.QueueCapacity = workers * perWorker
	p := mustOpen(t, cfg)

	var wg sync.WaitGroup
	var rejected atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				if !p.Enqueue(requestEvent(w*perWorker + i)) {
					rejected.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := rejected.Load(); n != 0 {
		t.Fatalf("Enqueue rejected %d of %d events, want 0", n, workers*perWorker)
	}

	waitPublished(t, p, workers*perWorker, 20*time.Second)
	entries := checkStream(t, client, cfg.Stream, cfg.ChainKey, p.Instance(), workers*perWorker)
	if len(entries) != workers*perWorker {
		t.Fatalf("stream holds %d entries, want %d", len(entries), workers*perWorker)
	}

	// Every request path arrived once.
	paths := map[string]bool{}
	for _, e := range entries {
		paths[e.Event.Path] = true
	}
	if len(paths) != workers*perWorker {
		t.Fatalf("stream holds %d distinct paths, want %d", len(paths), workers*perWorker)
	}

	s := p.Stats()
	if s.Enqueued != workers*perWorker || s.Spooled != workers*perWorker || s.Published != workers*perWorker || !s.RedisUp {
		t.Fatalf("Stats() = %+v, want %d enqueued, spooled and published, redis up", s, workers*perWorker)
	}
	if s.OldestUnpublishedAge != 0 {
		t.Fatalf("OldestUnpublishedAge = %v after publishing everything, want 0", s.OldestUnpublishedAge)
	}
	if wm, err := client.HGet(context.Background(), cfg.Stream+WatermarkSuffix, p.Instance()).Result(); err != nil || wm != "20000" {
		t.Fatalf("watermark = %q, %v, want \"20000\"", wm, err)
	}
}

// Close during load, then reopen: every accepted event is published once,
// every drop is declared, and seqs continue.
func TestCloseMidLoadAndReopen(t *testing.T) {
	srv := testredis.Start(t)
	client := newClient(t, srv)
	cfg := testConfig(t, srv.URL())
	p := mustOpen(t, cfg)
	instance := p.Instance()

	var accepted atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				ok := p.Enqueue(requestEvent(w*1_000_000 + i))
				if !ok && p.closed.Load() {
					return
				}
				if ok {
					accepted.Add(1)
				}
				if i%50 == 0 {
					time.Sleep(time.Millisecond) // about 50,000 events/s per producer at most
				}
			}
		}()
	}
	waitFor(t, 10*time.Second, "some events to be published", func() bool { return p.Stats().Published > 1000 })
	mustClose(t, p)
	wg.Wait()

	first := p.Stats()
	if first.Enqueued != uint64(accepted.Load()) {
		t.Fatalf("after Close: Enqueued = %d, want the %d accepted", first.Enqueued, accepted.Load())
	}
	if first.DroppedSpoolError != 0 || first.DroppedClosed == 0 {
		t.Fatalf("after Close: Stats() = %+v, want no spool errors and some closed drops", first)
	}

	p2 := mustOpen(t, cfg)
	if p2.Instance() != instance {
		t.Fatalf("reopened Instance() = %s, want %s", p2.Instance(), instance)
	}
	for i := 0; i < 10; i++ {
		p2.Enqueue(requestEvent(-i))
	}
	waitPublished(t, p2, first.LastSeq+10, 30*time.Second)
	want := first.LastSeq + 10
	if got := p2.Stats().LastSeq; got != want {
		t.Fatalf("LastSeq after reopen = %d, want %d", got, want)
	}

	entries := checkStream(t, client, cfg.Stream, cfg.ChainKey, instance, want)
	requests := len(entries) - countModule(entries, ModuleAudit)
	if wantRequests := int(accepted.Load()) + 10; requests != wantRequests {
		t.Fatalf("stream holds %d request events, want %d", requests, wantRequests)
	}
	rep, _ := Verify(entries, cfg.ChainKey)
	queueDrops := first.DroppedQueueFull + first.DroppedQueueBytes
	if got := rep.Instances[0].Dropped; got != queueDrops {
		t.Fatalf("declared drops = %d, want the %d queue drops", got, queueDrops)
	}
}

func TestSpoolOnlyMode(t *testing.T) {
	cfg := testConfig(t, "")
	p := mustOpen(t, cfg)
	for i := 0; i < 100; i++ {
		p.Enqueue(requestEvent(i))
	}
	mustClose(t, p)
	if s := p.Stats(); s.Spooled != 100 || s.Published != 0 || s.RedisUp {
		t.Fatalf("Stats() = %+v, want 100 spooled, none published, redis down", s)
	}

	p2 := mustOpen(t, cfg)
	p2.Enqueue(requestEvent(100))
	waitFor(t, 5*time.Second, "seq 101", func() bool { return p2.Stats().LastSeq == 101 })
	entries := readSpool(t, p2)
	if len(entries) != 101 {
		t.Fatalf("spool holds %d events, want 101: spool-only mode keeps everything", len(entries))
	}
	rep, _ := Verify(entries, cfg.ChainKey)
	if !rep.OK() {
		t.Fatalf("Verify(spool) = %v, want no problem", rep.Err())
	}
}

func TestOpenRejectsSecondPipelineOnSpool(t *testing.T) {
	cfg := testConfig(t, "")
	mustOpen(t, cfg)
	_, err := Open(cfg)
	if err == nil || !strings.Contains(err.Error(), "already open in this process") {
		t.Fatalf("second Open() = %v, want an 'already open' error", err)
	}
}

func TestOpenFailsOnLockedSpool(t *testing.T) {
	cfg := testConfig(t, "")
	path := filepath.Join(cfg.SpoolDir, SpoolFileName)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bolt.Open(%s) = %v", path, err)
	}
	defer db.Close()

	start := time.Now()
	_, err = Open(cfg)
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("Open(locked spool) = %v, want a 'locked' error", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("Open(locked spool) took %v, want about LockTimeout (%v)", waited, cfg.LockTimeout)
	}
	// The failed Open released its claim on the path.
	db.Close()
	mustOpen(t, cfg)
}

func TestCorruptSpoolIsMovedAside(t *testing.T) {
	tests := []struct {
		name  string
		write func(path string) error
	}{
		{"garbage", func(path string) error {
			return os.WriteFile(path, []byte(strings.Repeat("not a bolt file ", 2000)), 0o600)
		}},
		{"truncated", func(path string) error { return os.WriteFile(path, []byte{0xed, 0xda, 0x0c, 0xed}, 0o600) }},
		{"bolt file without audit buckets", func(path string) error {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				return err
			}
			err = db.Update(func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket(bucketSegments)
				return err
			})
			if cerr := db.Close(); err == nil {
				err = cerr
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "")
			path := filepath.Join(cfg.SpoolDir, SpoolFileName)
			if err := tt.write(path); err != nil {
				t.Fatalf("preparing the spool: %v", err)
			}
			original, _ := os.ReadFile(path)

			p := mustOpen(t, cfg)
			moved, _ := filepath.Glob(path + ".corrupt-*")
			if len(moved) != 1 {
				t.Fatalf("corrupt files next to the spool = %v, want one", moved)
			}
			if kept, _ := os.ReadFile(moved[0]); string(kept) != string(original) {
				t.Fatalf("%s differs from the corrupt spool: it must be kept as is", moved[0])
			}

			waitFor(t, 5*time.Second, "the spool_reset event", func() bool { return p.Stats().LastSeq == 1 })
			entries := readSpool(t, p)
			if ev := entries[0].Event; ev.Reason != ReasonSpoolReset || ev.Seq != 1 || !strings.Contains(ev.Detail, filepath.Base(moved[0])) {
				t.Fatalf("first event = %s seq %d detail %q, want spool_reset at seq 1 naming %s", ev.Reason, ev.Seq, ev.Detail, filepath.Base(moved[0]))
			}
		})
	}
}

func TestInstanceID(t *testing.T) {
	t.Run("configured name gets an epoch", func(t *testing.T) {
		cfg := testConfig(t, "")
		cfg.Instance = "gw1"
		p := mustOpen(t, cfg)
		id := p.Instance()
		if !hasInstancePrefix(id, "gw1") || len(id) != len("gw1-")+8 {
			t.Fatalf("Instance() = %q, want gw1-<8 hex digits>", id)
		}
		mustClose(t, p)

		p2 := mustOpen(t, cfg)
		if p2.Instance() != id {
			t.Fatalf("Instance() after reopen = %q, want %q", p2.Instance(), id)
		}
		mustClose(t, p2)

		// A renamed instance applies to a new spool only: the chain keeps its id.
		cfg.Instance = "gw2"
		p3 := mustOpen(t, cfg)
		if p3.Instance() != id {
			t.Fatalf("Instance() after renaming to gw2 = %q, want the stored %q", p3.Instance(), id)
		}
	})
	t.Run("default name from host and spool dir", func(t *testing.T) {
		a, b := testConfig(t, ""), testConfig(t, "")
		pa, pb := mustOpen(t, a), mustOpen(t, b)
		host, _ := os.Hostname()
		if !strings.HasPrefix(pa.Instance(), host+"-") {
			t.Fatalf("Instance() = %q, want the host name %q first", pa.Instance(), host)
		}
		nameA, nameB := defaultInstanceName(a.SpoolDir), defaultInstanceName(b.SpoolDir)
		if nameA == nameB {
			t.Fatalf("defaultInstanceName of two spool dirs = %q for both, want different", nameA)
		}
		if !hasInstancePrefix(pa.Instance(), nameA) || !hasInstancePrefix(pb.Instance(), nameB) {
			t.Fatalf("Instance() = %q and %q, want prefixes %q and %q", pa.Instance(), pb.Instance(), nameA, nameB)
		}
	})
}

func TestConfigValidation(t *testing.T) {
	key := testChainKey(t)
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no spool dir", func(c *Config) { c.SpoolDir = "" }, "missing audit spool_dir"},
		{"no chain key", func(c *Config) { c.ChainKey = nil }, "too short (0 bytes"},
		{"short chain key", func(c *Config) { c.ChainKey = key[:15] }, "too short (15 bytes"},
		{"negative max_len", func(c *Config) { c.MaxLen = -1 }, "max_len -1"},
		{"negative queue capacity", func(c *Config) { c.QueueCapacity = -1 }, "queue capacity -1"},
		{"negative queue bytes", func(c *Config) { c.QueueBytes = -1 }, "queue byte limit -1"},
		{"negative batch", func(c *Config) { c.BatchSize = -1 }, "batch size -1"},
		{"negative spool batch", func(c *Config) { c.SpoolBatchSize = -1 }, "spool batch size -1"},
		{"negative retention", func(c *Config) { c.Retention = -time.Second }, "retention -1s"},
		{"negative commit interval", func(c *Config) { c.CommitInterval = -time.Millisecond }, "commit interval -1ms"},
		{"commit interval over 1s", func(c *Config) { c.CommitInterval = 2 * time.Second }, "commit interval 2s: use a duration from 1ms to 1s"},
		{"negative timeout", func(c *Config) { c.RedisTimeout = -time.Second }, "set positive durations"},
		{"backoff inverted", func(c *Config) { c.MinBackoff, c.MaxBackoff = time.Second, time.Millisecond }, "max backoff"},
		{"bad redis URL", func(c *Config) { c.RedisURL = "http://user:hunter2@127.0.0.1" }, "parsing the audit redis URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "")
			cfg.ChainKey = key
			tt.change(&cfg)
			p, err := Open(cfg)
			if err == nil {
				_ = p.Close(context.Background())
				t.Fatalf("Open() error = nil, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open() error = %q, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("Open() error %q contains the Redis password", err)
			}
		})
	}

	// A failed Open leaves the spool free for the next one.
	cfg := testConfig(t, "")
	cfg.RedisURL = "http://127.0.0.1"
	if _, err := Open(cfg); err == nil {
		t.Fatal("Open(bad URL) error = nil")
	}
	cfg.RedisURL = ""
	mustOpen(t, cfg)
}

func TestRetentionPrunesPublishedEvents(t *testing.T) {
	srv := testredis.Start(t)
	cfg := testConfig(t, srv.URL())
	cfg.Retention = 50 * time.Millisecond
	p := mustOpen(t, cfg)
	for i := 0; i < 100; i++ {
		p.Enqueue(requestEvent(i))
	}
	waitPublished(t, p, 100, 10*time.Second)
	waitFor(t, 5*time.Second, "the spool to be pruned", func() bool {
		first, err := p.spool.firstSeq()
		return err == nil && first == 0
	})
}

// Under load the writer commits at most once per CommitInterval: an event
// that arrives just after a commit waits for the next one.
func TestCommitInterval(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.CommitInterval = 600 * time.Millisecond
	p := mustOpen(t, cfg)

	spooled := func() uint64 { return p.counters.spooled.Load() }
	waitFor := func(want uint64, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for spooled() < want {
			if time.Since(start) > within {
				t.Fatalf("spooled %d events after %v, want %d", spooled(), within, want)
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(start)
	}

	// The open events and the first request event go out at once.
	base := spooled()
	p.Enqueue(requestEvent(1))
	waitFor(base+1, 5*time.Second)

	p.Enqueue(requestEvent(2))
	time.Sleep(150 * time.Millisecond)
	if got := spooled(); got != base+1 {
		t.Fatalf("spooled %d events 150ms after a commit, want %d: the writer did not wait for the commit interval", got, base+1)
	}
	waitFor(base+2, 5*time.Second)
}
