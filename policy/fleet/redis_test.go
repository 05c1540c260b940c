package fleet

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/internal/testredis"
	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/keystore"
)

func newTestRedis(t *testing.T) *redis.Client {
	t.Helper()
	srv := testredis.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	return c
}

// subscribe returns a channel of the parsed events on channel.
func subscribe(t *testing.T, c *redis.Client, channel string) <-chan Event {
	t.Helper()
	ps := c.Subscribe(context.Background(), channel)
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatalf("SUBSCRIBE %s: %v", channel, err)
	}
	t.Cleanup(func() { ps.Close() })
	out := make(chan Event, 16)
	go func() {
		for msg := range ps.Channel() {
			if e, err := ParseEvent([]byte(msg.Payload)); err == nil {
				out <- e
			} else {
				t.Errorf("invalid event on %s: %v", channel, err)
			}
		}
	}()
	return out
}

func nextEvent(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(2 * time.Second):
		t.Fatal("no event within 2s")
		return Event{}
	}
}

func createOptions(id string) keystore.CreateOptions {
	return keystore.CreateOptions{
		ID:           id,
		Scopes:       []string{"inventory:read"},
		AllowedCIDRs: []string{"10.0.0.0/8"},
		ExpiresIn:    24 * time.Hour,
		Owner:        "team-a",
	}
}

func TestEditorLifecycle(t *testing.T) {
	c := newTestRedis(t)
	events := subscribe(t, c, KeysChannel)
	e := &Editor{Client: c, Location: "redis://test"}
	now := time.Now()

	token, ch, err := e.Create(createOptions("k1"), now)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if ch.Kind != keystore.ChangeCreated || !strings.HasPrefix(token, "awra_k1_") {
		t.Errorf("Create = change %+v, token prefix %.8q, want created and an awra_k1_ token", ch, token)
	}
	if ev := nextEvent(t, events); ev.Op != OpKey || ev.KeyID != "k1" || ev.Rev != 1 || ev.Status != policy.KeyActive {
		t.Errorf("event after Create = %+v, want key k1 rev 1 active", ev)
	}

	// The registry holds the hash of the token and never the token.
	raw, err := c.HGet(context.Background(), KeysHash, "k1").Result()
	if err != nil {
		t.Fatalf("HGET: %v", err)
	}
	secret := token[strings.LastIndexByte(token, '_')+1:]
	if strings.Contains(raw, secret) {
		t.Errorf("the stored record contains the token's secret")
	}
	if !strings.Contains(raw, policy.FormatHash(policy.HashToken(token))) {
		t.Errorf("the stored record lacks the token's hash")
	}

	if _, _, err := e.Create(createOptions("k1"), now); !errors.Is(err, keystore.ErrKeyExists) {
		t.Errorf("Create(existing) = %v, want ErrKeyExists", err)
	}

	steps := []struct {
		name       string
		run        func() (keystore.Change, error)
		wantStatus policy.KeyStatus
		unchanged  bool
		wantErr    error
	}{
		{"suspend", func() (keystore.Change, error) { return e.Suspend("k1", now) }, policy.KeySuspended, false, nil},
		{"suspend again", func() (keystore.Change, error) { return e.Suspend("k1", now) }, policy.KeySuspended, true, nil},
		{"resume", func() (keystore.Change, error) { return e.Resume("k1", now) }, policy.KeyActive, false, nil},
		{"revoke", func() (keystore.Change, error) { return e.Revoke("k1", now) }, policy.KeyRevoked, false, nil},
		{"resume revoked", func() (keystore.Change, error) { return e.Resume("k1", now) }, policy.KeyRevoked, false, keystore.ErrKeyRevoked},
		{"suspend unknown", func() (keystore.Change, error) { return e.Suspend("nope", now) }, "", false, keystore.ErrKeyNotFound},
		{"suspend invalid id", func() (keystore.Change, error) { return e.Suspend("Bad Id", now) }, "", false, keystore.ErrKeyNotFound},
	}
	rev := int64(1)
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			ch, err := s.run()
			if s.wantErr != nil {
				if !errors.Is(err, s.wantErr) {
					t.Fatalf("%s = %v, want %v", s.name, err, s.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if ch.Unchanged != s.unchanged {
				t.Errorf("%s: Unchanged = %v, want %v", s.name, ch.Unchanged, s.unchanged)
			}
			rec, err := e.Get("k1")
			if err != nil || rec.Status != s.wantStatus {
				t.Fatalf("Get after %s = %v, %v, want status %s", s.name, rec, err, s.wantStatus)
			}
			if s.unchanged {
				return
			}
			rev++
			if ev := nextEvent(t, events); ev.Rev != rev || ev.Status != s.wantStatus {
				t.Errorf("event after %s = %+v, want rev %d status %s", s.name, ev, rev, s.wantStatus)
			}
		})
	}

	if _, _, err := e.Create(createOptions("k1"), now); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("Create(revoked id) = %v, want an error that says the id belongs to a revoked key", err)
	}
}

func TestEditorRotateAndLoad(t *testing.T) {
	c := newTestRedis(t)
	e := &Editor{Client: c}
	now := time.Now()
	old, _, err := e.Create(createOptions("rot"), now)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, _, err := e.Create(createOptions("other"), now); err != nil {
		t.Fatalf("Create(other): %v", err)
	}
	token, ch, err := e.Rotate("rot", time.Hour, now)
	if err != nil || ch.Kind != keystore.ChangeRotated || token == old {
		t.Fatalf("Rotate = %v, %v, want a new token", ch, err)
	}

	f, err := e.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(f.Keys) != 2 || f.Keys[0].ID != "other" || f.Keys[1].ID != "rot" {
		t.Fatalf("Load() keys = %d, want other and rot sorted", len(f.Keys))
	}
	if n := len(f.Keys[1].Secrets); n != 2 {
		t.Errorf("secrets of rot after a rotation with grace = %d, want 2", n)
	}
	reg, err := policy.NewRegistry(f, nil)
	if err != nil {
		t.Fatalf("NewRegistry(Load()): %v", err)
	}
	for _, tok := range []string{old, token} {
		res := reg.Authenticate(policy.AuthRequest{Token: tok, ClientIP: mustAddr("10.1.2.3"), Now: now})
		if !res.Allowed() {
			t.Errorf("Authenticate(a token of rot) = %s, want allowed during the grace period", res.Reason)
		}
	}
}

// TestEditorConcurrentEdits runs edits of one key from several goroutines,
// as several admins would; the compare-and-set loses none of them.
func TestEditorConcurrentEdits(t *testing.T) {
	c := newTestRedis(t)
	e := &Editor{Client: c}
	now := time.Now()
	if _, _, err := e.Create(createOptions("busy"), now); err != nil {
		t.Fatalf("Create: %v", err)
	}
	const rotations = 4
	var wg sync.WaitGroup
	tokens := make([]string, rotations)
	for i := range rotations {
		wg.Go(func() {
			tok, _, err := e.Rotate("busy", time.Hour, now)
			if err != nil {
				t.Errorf("Rotate #%d: %v", i, err)
			}
			tokens[i] = tok
		})
	}
	wg.Wait()

	rec, err := e.Get("busy")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	// The first token and every rotation's token stay valid in the grace
	// period, so none of the concurrent rotations was lost.
	if got := len(rec.Secrets); got != rotations+1 {
		t.Errorf("secrets after %d concurrent rotations = %d, want %d", rotations, got, rotations+1)
	}
	rev, err := NewRegistry(c).Rev(context.Background())
	if err != nil || rev != rotations+1 {
		t.Errorf("registry revision = %d, %v, want %d", rev, err, rotations+1)
	}
}

func TestRegistrySnapshotSkipsBadRecords(t *testing.T) {
	c := newTestRedis(t)
	ctx := context.Background()
	reg := NewRegistry(c)

	rev, keys, bad, err := reg.Snapshot(ctx)
	if err != nil || rev != 0 || len(keys) != 0 || len(bad) != 0 {
		t.Fatalf("Snapshot(empty) = %d, %d keys, %v, %v, want 0, none", rev, len(keys), bad, err)
	}

	c.HSet(ctx, KeysHash, "good", storedJSON(t, 1, testRecord("good")), "bad", `{"rev":1,"record":{}}`)
	c.Set(ctx, KeysRevKey, 1, 0)
	rev, keys, bad, err = reg.Snapshot(ctx)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if rev != 1 || len(keys) != 1 || len(bad) != 1 {
		t.Errorf("Snapshot = rev %d, %d keys, %d bad, want 1, 1, 1", rev, len(keys), len(bad))
	}
	if _, err := (&Editor{Client: c}).Load(); err == nil {
		t.Errorf("Editor.Load with a bad record = nil error, want an error")
	}
}

func TestQuarantineCount(t *testing.T) {
	c := newTestRedis(t)
	ctx := context.Background()
	events := subscribe(t, c, QuarantineChannel)
	q := NewQuarantine(c, 3, time.Minute, "gw1")
	start := time.Now()

	steps := []struct {
		at          time.Duration
		count       int
		quarantined bool
	}{
		{0, 1, false},
		{time.Second, 2, false},
		// Two minutes later the first two have left the window.
		{2 * time.Minute, 1, false},
		{2*time.Minute + time.Second, 2, false},
		{2*time.Minute + 2*time.Second, 3, true},
		// Already quarantined: nothing more is counted.
		{2*time.Minute + 3*time.Second, 0, false},
	}
	for i, s := range steps {
		res, err := q.CountBypass(ctx, "k1", start.Add(s.at))
		if err != nil {
			t.Fatalf("step %d: CountBypass: %v", i, err)
		}
		if res.Count != s.count || res.Quarantined != s.quarantined {
			t.Errorf("step %d: CountBypass(+%v) = %+v, want count %d quarantined %v", i, s.at, res, s.count, s.quarantined)
		}
	}
	if ev := nextEvent(t, events); ev.Op != OpQuarantine || ev.KeyID != "k1" || ev.Instance != "gw1" {
		t.Errorf("event = %+v, want quarantine of k1 by gw1", ev)
	}

	all, err := Quarantined(ctx, c)
	if err != nil || all["k1"].Count != 3 || all["k1"].Instance != "gw1" {
		t.Errorf("Quarantined() = %v, %v, want k1 with count 3 from gw1", all, err)
	}
	if n, _ := c.Exists(ctx, countKey("k1")).Result(); n != 0 {
		t.Errorf("the count set of a quarantined key still exists")
	}

	lifted, err := Lift(ctx, c, "k1")
	if err != nil || !lifted {
		t.Errorf("Lift(k1) = %v, %v, want true", lifted, err)
	}
	if ev := nextEvent(t, events); ev.Op != OpLift || ev.KeyID != "k1" {
		t.Errorf("event = %+v, want lift of k1", ev)
	}
	if lifted, err := Lift(ctx, c, "k1"); err != nil || lifted {
		t.Errorf("Lift(k1) again = %v, %v, want false", lifted, err)
	}
	if _, err := Lift(ctx, c, "Not Valid"); err == nil {
		t.Errorf("Lift(invalid id) = nil error, want an error")
	}
}

func TestQuarantineCountBounded(t *testing.T) {
	c := newTestRedis(t)
	ctx := context.Background()
	q := NewQuarantine(c, 1000, time.Minute, "gw1")
	for i := range 50 {
		if _, err := q.CountBypass(ctx, "k2", time.Now().Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatalf("CountBypass: %v", err)
		}
	}
	ttl, err := c.PTTL(ctx, countKey("k2")).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL of the count set = %v, %v, want within (0, 1m]", ttl, err)
	}

	small := NewQuarantine(c, 3, time.Hour, "gw1")
	// Many denials at the same instant against a large threshold keep
	// at most the threshold's entries.
	for range 2 {
		small.CountBypass(ctx, "k3", time.Now())
	}
	if n, _ := c.ZCard(ctx, countKey("k3")).Result(); n > 3 {
		t.Errorf("ZCARD of the count set = %d, want at most 3", n)
	}
}

// TestQuarantineOneWinner counts from several instances at once: exactly
// one of them quarantines the key.
func TestQuarantineOneWinner(t *testing.T) {
	c := newTestRedis(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 6 {
		q := NewQuarantine(c, 5, time.Minute, "gw"+string(rune('a'+i)))
		wg.Go(func() {
			for range 5 {
				res, err := q.CountBypass(context.Background(), "k4", time.Now())
				if err != nil {
					t.Errorf("CountBypass: %v", err)
					return
				}
				if res.Quarantined {
					mu.Lock()
					winners++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("instances that quarantined k4 = %d, want 1", winners)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
