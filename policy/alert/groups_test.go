package alert

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/internal/testredis"
)

// groupStep is one call in a group scenario. Times are offsets from t0.
type groupStep struct {
	op     string // "record", "claim" or "force"
	at     time.Duration
	ip     string // record: client address
	seen   time.Duration
	flush  bool          // record: want flush
	due    time.Duration // record and early claims: want due
	claim  ClaimStatus   // claim: want status
	count  int64         // taken claim: want count
	total  int64
	first  time.Duration
	last   time.Duration
	lastIP string
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var testTiming = Timing{Wait: time.Second, Cooldown: 10 * time.Second, Stale: 2 * time.Second}

var groupScenarios = []struct {
	name  string
	steps []groupStep
}{
	{"wait then cooldown", []groupStep{
		{op: "record", at: 0, ip: "203.0.113.1", flush: true, due: time.Second},
		{op: "record", at: 100 * time.Millisecond, ip: "203.0.113.2", due: time.Second},
		{op: "claim", at: 500 * time.Millisecond, claim: ClaimEarly, due: time.Second},
		{op: "claim", at: time.Second, claim: ClaimTaken, count: 2, total: 2, first: 0, last: 100 * time.Millisecond, lastIP: "203.0.113.2"},
		// A second claim of the same due time finds nothing: another
		// instance's timer fired too.
		{op: "claim", at: 1100 * time.Millisecond, claim: ClaimNone},
		// Denials during the cooldown wait for its end.
		{op: "record", at: 2 * time.Second, ip: "203.0.113.3", flush: true, due: 11 * time.Second},
		{op: "record", at: 3 * time.Second, ip: "203.0.113.4", due: 11 * time.Second},
		{op: "claim", at: 11 * time.Second, claim: ClaimTaken, count: 2, total: 4, first: 2 * time.Second, last: 3 * time.Second, lastIP: "203.0.113.4"},
	}},
	{"stale due is taken over", []groupStep{
		{op: "record", at: 0, ip: "203.0.113.1", flush: true, due: time.Second},
		// The instance that should claim at 1s stopped. Within Stale
		// nobody takes over ...
		{op: "record", at: 2 * time.Second, ip: "203.0.113.1", due: time.Second},
		// ... after it the next recorder does.
		{op: "record", at: 3100 * time.Millisecond, ip: "203.0.113.1", flush: true, due: 4100 * time.Millisecond},
		{op: "claim", at: 4100 * time.Millisecond, claim: ClaimTaken, count: 3, total: 3, first: 0, last: 3100 * time.Millisecond, lastIP: "203.0.113.1"},
	}},
	{"force claims early", []groupStep{
		{op: "record", at: 0, ip: "2001:db8::1", flush: true, due: time.Second},
		{op: "force", at: 200 * time.Millisecond, claim: ClaimTaken, count: 1, total: 1, first: 0, last: 0, lastIP: "2001:db8::1"},
		{op: "claim", at: time.Second, claim: ClaimNone},
	}},
	{"late report keeps order", []groupStep{
		{op: "record", at: time.Second, seen: time.Second, ip: "203.0.113.9", flush: true, due: 2 * time.Second},
		// Reported later by a slower instance, but denied earlier.
		{op: "record", at: 1200 * time.Millisecond, seen: 500 * time.Millisecond, ip: "203.0.113.5", due: 2 * time.Second},
		{op: "claim", at: 2 * time.Second, claim: ClaimTaken, count: 2, total: 2, first: 500 * time.Millisecond, last: time.Second, lastIP: "203.0.113.9"},
	}},
	{"claim of unknown group", []groupStep{
		{op: "claim", at: 0, claim: ClaimNone},
	}},
}

func runGroupScenarios(t *testing.T, newGroups func(t *testing.T) Groups) {
	for _, sc := range groupScenarios {
		t.Run(sc.name, func(t *testing.T) {
			groups := newGroups(t)
			g := Group{KeyID: "k-" + fmt.Sprint(len(sc.name)), Reason: "ip_not_allowed", Network: netip.MustParsePrefix("203.0.113.0/24")}
			ctx := context.Background()
			for i, s := range sc.steps {
				now := t0.Add(s.at)
				switch s.op {
				case "record":
					seen := s.seen
					if seen == 0 {
						seen = s.at
					}
					b := Bypass{Module: "api_key", Reason: g.Reason, KeyID: g.KeyID, Owner: "team-a",
						ClientIP: netip.MustParseAddr(s.ip), Allowed: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, At: t0.Add(seen)}
					due, flush, err := groups.Record(ctx, g, b, now)
					if err != nil {
						t.Fatalf("step %d: Record: %v", i, err)
					}
					if flush != s.flush || !due.Equal(t0.Add(s.due)) {
						t.Errorf("step %d: Record(at +%v) = due +%v flush %v, want due +%v flush %v", i, s.at, due.Sub(t0), flush, s.due, s.flush)
					}
				case "claim", "force":
					snap, status, due, err := groups.Claim(ctx, g, now, s.op == "force")
					if err != nil {
						t.Fatalf("step %d: Claim: %v", i, err)
					}
					if status != s.claim {
						t.Fatalf("step %d: Claim(at +%v) status = %v, want %v", i, s.at, status, s.claim)
					}
					if status == ClaimEarly && !due.Equal(t0.Add(s.due)) {
						t.Errorf("step %d: Claim(at +%v) early due = +%v, want +%v", i, s.at, due.Sub(t0), s.due)
					}
					if status != ClaimTaken {
						continue
					}
					want := Snapshot{Count: s.count, Total: s.total, FirstSeen: t0.Add(s.first), LastSeen: t0.Add(s.last),
						ClientIP: s.lastIP, Owner: "team-a", Module: "api_key", Allowed: []string{"10.0.0.0/8"}}
					if fmt.Sprint(snap) != fmt.Sprint(want) || !snap.FirstSeen.Equal(want.FirstSeen) || !snap.LastSeen.Equal(want.LastSeen) {
						t.Errorf("step %d: Claim(at +%v) = %+v, want %+v", i, s.at, snap, want)
					}
				}
			}
		})
	}
}

func TestMemoryGroups(t *testing.T) {
	runGroupScenarios(t, func(*testing.T) Groups { return NewMemoryGroups(testTiming, 0) })
}

func TestRedisGroups(t *testing.T) {
	srv := testredis.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	runGroupScenarios(t, func(t *testing.T) Groups {
		if err := c.FlushDB(context.Background()).Err(); err != nil {
			t.Fatalf("FLUSHDB: %v", err)
		}
		return NewRedisGroups(c, "", testTiming)
	})

	t.Run("group key expires", func(t *testing.T) {
		groups := NewRedisGroups(c, "", testTiming)
		g := Group{KeyID: "ttl", Reason: "ip_not_allowed", Network: netip.MustParsePrefix("203.0.113.0/24")}
		if _, _, err := groups.Record(context.Background(), g, Bypass{ClientIP: netip.MustParseAddr("203.0.113.1")}, time.Now()); err != nil {
			t.Fatalf("Record: %v", err)
		}
		ttl, err := c.PTTL(context.Background(), groups.Key(g)).Result()
		if err != nil {
			t.Fatalf("PTTL: %v", err)
		}
		if max := testTiming.ttl(); ttl <= 0 || ttl > max {
			t.Errorf("PTTL %s = %v, want within (0, %v]", groups.Key(g), ttl, max)
		}
	})
}

func TestMemoryGroupsBounded(t *testing.T) {
	m := NewMemoryGroups(testTiming, 2)
	ctx := context.Background()
	record := func(key string, now time.Time) error {
		g := Group{KeyID: key, Reason: "ip_not_allowed"}
		_, _, err := m.Record(ctx, g, Bypass{KeyID: key}, now)
		return err
	}
	if err := record("a", t0); err != nil {
		t.Fatalf("Record(a): %v", err)
	}
	if err := record("b", t0); err != nil {
		t.Fatalf("Record(b): %v", err)
	}
	if err := record("c", t0); err == nil {
		t.Errorf("Record(c) with 2 live groups of 2 = nil error, want errTooManyGroups")
	}
	// Once the first two have expired there is room again.
	if err := record("c", t0.Add(testTiming.ttl())); err != nil {
		t.Errorf("Record(c) after expiry = %v, want nil", err)
	}
	if n := m.Len(); n != 1 {
		t.Errorf("Len() after expiry = %d, want 1", n)
	}
}

func TestParseClaimRejectsMalformedReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply []any
	}{
		{"empty", nil},
		{"status not a number", []any{"1"}},
		{"unknown status", []any{int64(7)}},
		{"taken without fields", []any{int64(1), "2"}},
		{"early due not a number", []any{int64(2), "soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, _, err := parseClaim(tt.reply); err == nil {
				t.Errorf("parseClaim(%v) = nil error, want an error", tt.reply)
			}
		})
	}
}
