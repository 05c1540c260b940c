package audit

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awra/awragate/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// produce enqueues n events at about one per interval in the background
// and returns a channel closed when it is done.
func produce(p *Pipeline, n int, interval time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			p.Enqueue(requestEvent(i))
			time.Sleep(interval)
		}
	}()
	return done
}

func TestRedisKilledMidStream(t *testing.T) {
	srv := testredis.Start(t)
	cfg := testConfig(t, srv.URL())
	p := mustOpen(t, cfg)

	done := produce(p, 3000, time.Millisecond)
	waitFor(t, 10*time.Second, "some events to be published", func() bool { return p.Stats().Published > 300 })
	srv.Kill()
	waitFor(t, 5*time.Second, "the publisher to notice", func() bool { return !p.Stats().RedisUp })
	time.Sleep(2 * time.Second)
	srv.Restart(t)
	<-done
	waitPublished(t, p, 3000, 20*time.Second)

	// The restarted server is empty, so the publisher re-sent everything
	// from the spool; each seq is there once.
	client := newClient(t, srv)
	checkStream(t, client, cfg.Stream, cfg.ChainKey, p.Instance(), 3000)
	if s := p.Stats(); !s.RedisUp || s.Replayed == 0 {
		t.Fatalf("Stats() = %+v, want redis up and replayed events", s)
	}
}

// Connections cut while batches are in flight leave it unknown whether a
// batch was applied; the watermark makes the re-send add nothing twice.
func TestConnectionsKilledDuringPublish(t *testing.T) {
	srv := testredis.Start(t)
	client := newClient(t, srv)
	cfg := testConfig(t, srv.URL())
	cfg.BatchSize = 50
	p := mustOpen(t, cfg)

	done := produce(p, 4000, 200*time.Microsecond)
	ctx := context.Background()
	kills := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(50 * time.Millisecond):
			// Skip this test's own connection, which CLIENT KILL would close too.
			id, err := client.ClientID(ctx).Result()
			if err != nil {
				t.Fatalf("CLIENT ID: %v", err)
			}
			if err := client.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
				t.Fatalf("CLIENT KILL (client %d): %v", id, err)
			}
			kills++
		}
	}
	waitPublished(t, p, 4000, 20*time.Second)
	if kills == 0 {
		t.Fatal("no connection was killed")
	}
	checkStream(t, client, cfg.Stream, cfg.ChainKey, p.Instance(), 4000)
}

func TestRedisDownAtOpen(t *testing.T) {
	srv := testredis.Start(t)
	srv.Stop()
	cfg := testConfig(t, srv.URL())
	p := mustOpen(t, cfg)

	for i := 0; i < 500; i++ {
		if !p.Enqueue(requestEvent(i)) {
			t.Fatalf("Enqueue(%d) with redis down = false, want true", i)
		}
	}
	waitFor(t, 5*time.Second, "500 spooled events", func() bool { return p.Stats().LastSeq == 500 })
	time.Sleep(50 * time.Millisecond)
	if s := p.Stats(); s.RedisUp || s.Published != 0 || s.OldestUnpublishedAge <= 0 {
		t.Fatalf("Stats() with redis down = %+v, want redis down, nothing published, an unpublished age", s)
	}

	srv.Restart(t)
	waitPublished(t, p, 500, 15*time.Second)
	checkStream(t, newClient(t, srv), cfg.Stream, cfg.ChainKey, p.Instance(), 500)
}

// testClock is a clock the test can move forward.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// loseNewest simulates a failover that lost every entry of instance above
// seq keep: the stream entries and the watermark go back together.
func loseNewest(t *testing.T, c *redis.Client, stream, instance string, keep uint64) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for _, e := range readStream(t, c, stream) {
		if e.Event.Instance == instance && e.Event.Seq > keep {
			ids = append(ids, e.ID)
		}
	}
	_, err := c.TxPipelined(ctx, func(tx redis.Pipeliner) error {
		if len(ids) > 0 {
			tx.XDel(ctx, stream, ids...)
		}
		if keep == 0 {
			tx.HDel(ctx, stream+WatermarkSuffix, instance)
		} else {
			tx.HSet(ctx, stream+WatermarkSuffix, instance, strconv.FormatUint(keep, 10))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("simulating lost writes: %v", err)
	}
}

func TestFailoverRepair(t *testing.T) {
	t.Run("newest entries lost within retention", func(t *testing.T) {
		srv := testredis.Start(t)
		client := newClient(t, srv)
		cfg := testConfig(t, srv.URL())
		p := mustOpen(t, cfg)
		for i := 0; i < 1000; i++ {
			p.Enqueue(requestEvent(i))
		}
		waitPublished(t, p, 1000, 10*time.Second)

		loseNewest(t, client, cfg.Stream, p.Instance(), 600)
		p.Enqueue(requestEvent(1000))
		waitPublished(t, p, 1001, 10*time.Second)

		checkStream(t, client, cfg.Stream, cfg.ChainKey, p.Instance(), 1001)
		if got := p.Stats().Replayed; got < 400 {
			t.Fatalf("Replayed = %d, want at least the 400 lost events", got)
		}
	})

	t.Run("stream and watermark wiped", func(t *testing.T) {
		srv := testredis.Start(t)
		client := newClient(t, srv)
		cfg := testConfig(t, srv.URL())
		p := mustOpen(t, cfg)
		for i := 0; i < 300; i++ {
			p.Enqueue(requestEvent(i))
		}
		waitPublished(t, p, 300, 10*time.Second)

		ctx := context.Background()
		if err := client.XTrimMaxLen(ctx, cfg.Stream, 0).Err(); err != nil {
			t.Fatalf("XTRIM: %v", err)
		}
		if err := client.Del(ctx, cfg.Stream+WatermarkSuffix).Err(); err != nil {
			t.Fatalf("DEL watermark: %v", err)
		}
		p.Enqueue(requestEvent(300))
		waitPublished(t, p, 301, 10*time.Second)
		checkStream(t, client, cfg.Stream, cfg.ChainKey, p.Instance(), 301)
	})

	t.Run("entries lost beyond retention are declared", func(t *testing.T) {
		srv := testredis.Start(t)
		client := newClient(t, srv)
		clock := &testClock{}
		cfg := testConfig(t, srv.URL())
		cfg.Now = clock.now
		p := mustOpen(t, cfg)
		for i := 0; i < 100; i++ {
			p.Enqueue(requestEvent(i))
		}
		waitPublished(t, p, 100, 10*time.Second)

		// Seqs 1-100 age out of the retention window and are pruned.
		clock.advance(time.Hour)
		waitFor(t, 5*time.Second, "the spool to be pruned", func() bool {
			first, err := p.spool.firstSeq()
			return err == nil && first == 0
		})
		for i := 100; i < 110; i++ {
			p.Enqueue(requestEvent(i))
		}
		waitPublished(t, p, 110, 10*time.Second)

		// Redis loses 51-110; only 101-110 can be sent again.
		loseNewest(t, client, cfg.Stream, p.Instance(), 50)
		p.Enqueue(requestEvent(110))
		waitPublished(t, p, 112, 10*time.Second)

		entries := readStream(t, client, cfg.Stream)
		rep, _ := Verify(entries, cfg.ChainKey)
		if !rep.OK() {
			t.Fatalf("Verify() = %v, want the lost range declared", rep.Err())
		}
		if got, want := rep.Instances[0].Lost, []SeqRange{{51, 100}}; !slices.Equal(got, want) {
			t.Fatalf("declared lost ranges = %v, want %v", got, want)
		}
		if got, want := len(entries), 50+10+1+1; got != want {
			t.Fatalf("stream holds %d entries, want %d (1-50, 101-111 and the events_lost note)", got, want)
		}

		// Without the declaration the same stream fails.
		var undeclared []Entry
		for _, e := range entries {
			if e.Event.Reason != ReasonEventsLost {
				undeclared = append(undeclared, e)
			}
		}
		rep, _ = Verify(undeclared, cfg.ChainKey)
		if rep.OK() || rep.Problems[0].Kind != ProblemGap || rep.Problems[0].Seq != 101 {
			t.Fatalf("Verify(without declaration) first problem = %v, want a gap before seq 101", rep.Err())
		}
	})
}

// Sending a batch again adds nothing, also after Redis forgot the script.
func TestPublishScriptIsIdempotent(t *testing.T) {
	srv := testredis.Start(t)
	client := newClient(t, srv)
	cfg := testConfig(t, srv.URL())
	p := mustOpen(t, cfg)
	for i := 0; i < 20; i++ {
		p.Enqueue(requestEvent(i))
	}
	waitPublished(t, p, 20, 10*time.Second)

	batch := new(packedBatch)
	if err := p.spool.readPacked(0, 100, batch); err != nil || batch.count != 20 {
		t.Fatalf("readPacked() = %d events, %v; want 20", batch.count, err)
	}
	ctx := context.Background()
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatalf("SCRIPT FLUSH: %v", err)
	}
	for _, floor := range []uint64{0, 20} {
		res, err := p.sendBatch(ctx, batch, floor)
		if err != nil {
			t.Fatalf("sendBatch(floor %d) = %v", floor, err)
		}
		if res.added != 0 || res.watermark != 20 || res.behind {
			t.Fatalf("sendBatch(floor %d) again = %+v, want nothing added at watermark 20", floor, res)
		}
	}

	res, err := p.sendBatch(ctx, batch, 21)
	if err != nil || !res.behind || res.added != 0 {
		t.Fatalf("sendBatch(floor above watermark) = %+v, %v; want behind and nothing added", res, err)
	}
	if n, _ := client.XLen(ctx, cfg.Stream).Result(); n != 20 {
		t.Fatalf("XLEN = %d, want 20", n)
	}
}

// Values of every MessagePack string size reach the stream unchanged:
// up to 31 bytes, up to 64 KiB and beyond, and an empty one.
func TestPublishLongValues(t *testing.T) {
	srv := testredis.Start(t)
	client := newClient(t, srv)
	cfg := testConfig(t, srv.URL())
	p := mustOpen(t, cfg)

	path, detail := "/"+strings.Repeat("p", 300), strings.Repeat("d", 70_000)
	ev := requestEvent(1)
	ev.Path, ev.Detail, ev.Provider = path, detail, ""
	p.Enqueue(ev) // the pipeline owns ev from here on
	waitPublished(t, p, p.counters.lastSeq.Load()+1, 10*time.Second)

	var found bool
	for _, e := range readStream(t, client, cfg.Stream) {
		if e.Fields["request_id"] != "req-1" {
			continue
		}
		found = true
		if e.Fields["path"] != path {
			t.Errorf("path has %d bytes in the stream, want %d", len(e.Fields["path"]), len(path))
		}
		if e.Fields["detail"] != detail {
			t.Errorf("detail has %d bytes in the stream, want %d", len(e.Fields["detail"]), len(detail))
		}
		if v, ok := e.Fields["provider"]; !ok || v != "" {
			t.Errorf("provider = %q, %v in the stream, want an empty field", v, ok)
		}
	}
	if !found {
		t.Fatal("the event with long values is not in the stream")
	}
	if rep, _ := Verify(readStream(t, client, cfg.Stream), cfg.ChainKey); !rep.OK() {
		t.Fatalf("Verify() = %v, want a valid chain", rep.Err())
	}
}

func TestStreamTrimmedToMaxLen(t *testing.T) {
	srv := testredis.Start(t)
	client := newClient(t, srv)
	cfg := testConfig(t, srv.URL())
	cfg.MaxLen = 100
	p := mustOpen(t, cfg)
	for i := 0; i < 2000; i++ {
		p.Enqueue(requestEvent(i))
	}
	waitPublished(t, p, 2000, 10*time.Second)

	n, err := client.XLen(context.Background(), cfg.Stream).Result()
	if err != nil {
		t.Fatalf("XLEN: %v", err)
	}
	// MAXLEN ~ trims whole nodes, so the length stays near the cap.
	if n < 100 || n > 300 {
		t.Fatalf("XLEN = %d, want about 100", n)
	}
	rep, _ := Verify(readStream(t, client, cfg.Stream), cfg.ChainKey)
	if !rep.OK() || rep.Instances[0].FromGenesis || rep.Instances[0].LastSeq != 2000 {
		t.Fatalf("Verify(trimmed stream) = %v, %+v; want a valid chain ending at 2000 without genesis", rep.Err(), rep.Instances)
	}
}
