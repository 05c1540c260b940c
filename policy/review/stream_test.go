package review

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/internal/testredis"
	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
)

// streamChainKey is the chain key of the stream tests; it is test data.
var streamChainKey = []byte("review-stream-test-chain-key-0123456789")

const testStream = "review:test"

func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	srv := testredis.Start(t)
	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// publish writes events through a real audit pipeline, so they carry a
// real chain and watermark, and waits until Redis has them all.
func publish(t *testing.T, c *redis.Client, instance string, events []*audit.Event) {
	t.Helper()
	p, err := audit.Open(audit.Config{
		Client: c, Stream: testStream, SpoolDir: t.TempDir(), ChainKey: streamChainKey, Instance: instance,
		PollInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("audit.Open: %v", err)
	}
	for _, ev := range events {
		if !p.Enqueue(ev) {
			t.Fatal("Enqueue = false")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st := p.Stats(); st.PublishedSeq != st.LastSeq {
		t.Fatalf("published seq %d of %d", st.PublishedSeq, st.LastSeq)
	}
}

func apiEvents(n int, keyID string) []*audit.Event {
	var out []*audit.Event
	for i := 0; i < n; i++ {
		out = append(out, &audit.Event{
			Module: audit.ModuleAPIKey, Decision: audit.DecisionAllow, Status: 200, KeyID: keyID,
			ClientIP: "203.0.113.7", Method: "GET", Host: "api.example.com:8443", Path: "/api/inventory/items",
			Scopes: "inventory:read inventory:write",
		})
	}
	return out
}

func collect(t *testing.T, c *redis.Client, observe func(*audit.Event)) (*AuditResult, string) {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	res, err := CollectAudit(context.Background(), c, CollectOptions{
		Stream: testStream, Start: now.Add(-time.Hour), End: now.Add(time.Minute), ChainKey: streamChainKey, Dir: dir, Observe: observe,
	})
	if err != nil {
		t.Fatalf("CollectAudit: %v", err)
	}
	return res, dir
}

func auditGate(res *AuditResult) Gate {
	return checkAuditPackage(AuditInput{Configured: true, Stream: testStream, ChainKeySource: "test", Result: res})
}

func TestCollectAuditIntact(t *testing.T) {
	c := newRedis(t)
	publish(t, c, "gw-a", apiEvents(5, "k1"))
	publish(t, c, "gw-b", append(apiEvents(2, "k2"), &audit.Event{Module: audit.ModuleAlert, Decision: audit.DecisionDeny, Reason: "key_quarantined", KeyID: "k2"}))

	observed := 0
	res, dir := collect(t, c, func(*audit.Event) { observed++ })
	if res.EntriesInPeriod != 8 || observed != 8 || res.Alerts != 1 {
		t.Errorf("entries, observed, alerts = %d, %d, %d, want 8, 8, 1", res.EntriesInPeriod, observed, res.Alerts)
	}
	g := auditGate(res)
	if got := codes(g, SeverityFail); len(got) != 0 {
		t.Errorf("fail codes = %v, want none", got)
	}

	export, err := os.ReadFile(filepath.Join(dir, AuditExportFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(export, []byte("\n")); n != 8 {
		t.Errorf("export lines = %d, want 8", n)
	}
	alerts, _ := os.ReadFile(filepath.Join(dir, AlertsFile))
	if n := bytes.Count(alerts, []byte("\n")); n != 1 {
		t.Errorf("alert lines = %d, want 1", n)
	}
	if res.Export.ReadBack != 8 || res.Export.ReadBackSHA256 != res.Export.SHA256 {
		t.Errorf("export read back = %+v", res.Export)
	}
}

func TestCollectAuditXDEL(t *testing.T) {
	c := newRedis(t)
	publish(t, c, "gw-a", apiEvents(6, "k1"))
	ids := streamIDs(t, c)
	if err := c.XDel(context.Background(), testStream, ids[2]).Err(); err != nil {
		t.Fatal(err)
	}

	res, _ := collect(t, c, nil)
	got := codes(auditGate(res), SeverityFail)
	for _, want := range []string{"audit_entry_deleted", "audit_gap_undeclared"} {
		if !slices.Contains(got, want) {
			t.Errorf("fail codes = %v, want %s among them", got, want)
		}
	}
}

func TestCollectAuditTailDeleted(t *testing.T) {
	c := newRedis(t)
	publish(t, c, "gw-a", apiEvents(4, "k1"))
	ids := streamIDs(t, c)
	if err := c.XDel(context.Background(), testStream, ids[len(ids)-1]).Err(); err != nil {
		t.Fatal(err)
	}
	res, _ := collect(t, c, nil)
	got := codes(auditGate(res), SeverityFail)
	if !slices.Contains(got, "audit_tail_missing") {
		t.Errorf("fail codes = %v, want audit_tail_missing among them", got)
	}
}

// TestCollectAuditForgedGap adds, with the right chain key, an instance
// whose seqs 3 and 4 never reached the stream and were never declared.
func TestCollectAuditForgedGap(t *testing.T) {
	c := newRedis(t)
	ctx := context.Background()
	prev := ""
	for seq := uint64(1); seq <= 6; seq++ {
		ev := &audit.Event{V: 1, TS: time.Now().UTC(), Instance: "gw-lossy", Seq: seq, Module: audit.ModuleAPIKey, Decision: audit.DecisionAllow, PrevHash: prev}
		ev.Hash = audit.ComputeHash(streamChainKey, ev)
		prev = ev.Hash
		if seq == 3 || seq == 4 {
			continue
		}
		if err := c.XAdd(ctx, &redis.XAddArgs{Stream: testStream, Values: ev.Fields()}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.HSet(ctx, testStream+audit.WatermarkSuffix, "gw-lossy", "6")

	res, _ := collect(t, c, nil)
	got := codes(auditGate(res), SeverityFail)
	if !slices.Equal(got, []string{"audit_gap_undeclared"}) {
		t.Errorf("fail codes = %v, want [audit_gap_undeclared]", got)
	}
}

func TestCollectAuditUnregisteredInstance(t *testing.T) {
	c := newRedis(t)
	ev := &audit.Event{V: 1, TS: time.Now().UTC(), Instance: "intruder", Seq: 1, Module: audit.ModuleAdmin, Decision: audit.DecisionAllow, Reason: policy.Reason("key_created")}
	ev.Hash = audit.ComputeHash(streamChainKey, ev)
	if err := c.XAdd(context.Background(), &redis.XAddArgs{Stream: testStream, Values: ev.Fields()}).Err(); err != nil {
		t.Fatal(err)
	}
	res, _ := collect(t, c, nil)
	if got := codes(auditGate(res), SeverityFail); !slices.Equal(got, []string{"audit_instance_unregistered"}) {
		t.Errorf("fail codes = %v, want [audit_instance_unregistered]", got)
	}
}

func TestCollectAuditWrongChainKey(t *testing.T) {
	c := newRedis(t)
	publish(t, c, "gw-a", apiEvents(2, "k1"))
	dir := t.TempDir()
	now := time.Now()
	res, err := CollectAudit(context.Background(), c, CollectOptions{
		Stream: testStream, Start: now.Add(-time.Hour), End: now.Add(time.Minute), ChainKey: []byte("another-chain-key-of-32-bytes-000"), Dir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(auditGate(res), SeverityFail); !slices.Contains(got, "audit_entry_altered") {
		t.Errorf("fail codes = %v, want audit_entry_altered among them", got)
	}
}

func TestCollectAuditPeriod(t *testing.T) {
	c := newRedis(t)
	publish(t, c, "gw-a", apiEvents(3, "k1"))
	time.Sleep(20 * time.Millisecond)
	mid := time.Now()
	time.Sleep(20 * time.Millisecond)
	publish(t, c, "gw-b", apiEvents(2, "k2"))

	dir := t.TempDir()
	res, err := CollectAudit(context.Background(), c, CollectOptions{
		Stream: testStream, Start: mid, End: time.Now().Add(time.Minute), ChainKey: streamChainKey, Dir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.EntriesBefore != 3 || res.EntriesInPeriod != 2 {
		t.Errorf("before, in period = %d, %d, want 3, 2", res.EntriesBefore, res.EntriesInPeriod)
	}
	// gw-a was complete before the period and silent during it.
	if got := codes(auditGate(res), SeverityFail); len(got) != 0 {
		t.Errorf("fail codes = %v, want none", got)
	}
}

func TestCollectAuditShortChainKey(t *testing.T) {
	c := newRedis(t)
	dir := t.TempDir()
	_, err := CollectAudit(context.Background(), c, CollectOptions{Stream: testStream, ChainKey: []byte("short"), Dir: dir, End: time.Now()})
	if err == nil {
		t.Fatal("CollectAudit with a 5-byte chain key = nil error, want an error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("evidence dir after a failed collection has %d files, want none", len(entries))
	}
}

func streamIDs(t *testing.T, c *redis.Client) []string {
	t.Helper()
	msgs, err := c.XRange(context.Background(), testStream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestRecordNarrowing(t *testing.T) {
	c := newRedis(t)
	plan := []KeyNarrowing{
		{KeyID: "k-a", ScopesBefore: []string{"a:read", "a:write"}, ScopesAfter: []string{"a:read"}, CIDRsBefore: []string{"10.0.0.0/8"}, CIDRsAfter: []string{"10.0.0.0/8"}},
		{KeyID: "k-b", ScopesBefore: []string{"b:read"}, ScopesAfter: []string{"b:read"}, CIDRsBefore: []string{"10.0.0.0/8", "::1/128"}, CIDRsAfter: []string{"10.0.0.0/8"}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := RecordNarrowing(ctx, audit.Config{Client: c, Stream: testStream, ChainKey: streamChainKey}, "/etc/keys.json", plan, reviewNow)
	if err != nil {
		t.Fatalf("RecordNarrowing = %v", err)
	}

	var got []string
	res, _ := collect(t, c, func(ev *audit.Event) {
		if ev.Module == audit.ModuleAdmin && ev.Reason == ReasonKeyNarrowed {
			got = append(got, ev.KeyID+" "+ev.Detail)
		}
	})
	want := []string{
		"k-a removed_scopes=a:write keys_file=/etc/keys.json",
		"k-b removed_cidrs=::1/128 keys_file=/etc/keys.json",
	}
	if !slices.Equal(got, want) {
		t.Errorf("key_narrowed events = %q, want %q", got, want)
	}
	if fails := codes(auditGate(res), SeverityFail); len(fails) != 0 {
		t.Errorf("audit gate after RecordNarrowing: fail codes %v, want none", fails)
	}
}

func TestRecordNarrowingWithoutRedis(t *testing.T) {
	err := RecordNarrowing(context.Background(), audit.Config{ChainKey: streamChainKey}, "keys.json", nil, reviewNow)
	if err == nil {
		t.Error("RecordNarrowing without Redis = nil error, want an error")
	}
}
