package auditcli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/internal/testredis"
	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
)

// testEpoch is the ts of the first event of chainEvents; later events are
// one second apart.
var testEpoch = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// newChainKey returns a fresh random chain key as the text an operator
// would export in AWRA_AUDIT_CHAIN_KEY.
func newChainKey(t testing.TB) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("generating a chain key: %v", err)
	}
	return hex.EncodeToString(b[:])
}

// chainEvents returns n chained events of instance, seqs 1 to n, ts one
// second apart from testEpoch. Odd seqs are denials of key "k-odd", even
// seqs allows of key "k-even".
func chainEvents(key, instance string, n int) []audit.Event {
	events := make([]audit.Event, n)
	prev := ""
	for i := range events {
		ev := audit.Event{
			V:         audit.SchemaVersion,
			TS:        testEpoch.Add(time.Duration(i) * time.Second),
			Instance:  instance,
			Seq:       uint64(i + 1),
			RequestID: fmt.Sprintf("req-%s-%d", instance, i+1),
			Module:    audit.ModuleAPIKey,
			Decision:  audit.DecisionAllow,
			Status:    200,
			KeyID:     "k-even",
			ClientIP:  "127.0.0.1",
			PeerIP:    "127.0.0.1",
			Method:    "GET",
			Host:      "api.example.com",
			Path:      "/api/inventory/" + strconv.Itoa(i+1),
			Scopes:    "inventory:read",
			LatencyUS: int64(10 + i),
			PrevHash:  prev,
		}
		if ev.Seq%2 == 1 {
			ev.Decision, ev.Reason, ev.Status, ev.KeyID = audit.DecisionDeny, policy.Reason("key_invalid"), 401, "k-odd"
		}
		ev.Hash = audit.ComputeHash([]byte(key), &ev)
		prev = ev.Hash
		events[i] = ev
	}
	return events
}

// testStream is a stream on a private redis-server.
type testStream struct {
	server *testredis.Server
	client *redis.Client
	name   string
}

// startStream starts a redis-server for the test.
func startStream(t *testing.T) *testStream {
	t.Helper()
	srv := testredis.Start(t)
	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatalf("redis.ParseURL(%q): %v", srv.URL(), err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	return &testStream{server: srv, client: client, name: audit.DefaultStream}
}

// add appends fields as a new entry and returns its id.
func (s *testStream) add(t testing.TB, fields map[string]string) string {
	t.Helper()
	values := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		values = append(values, k, v)
	}
	id, err := s.client.XAdd(context.Background(), &redis.XAddArgs{Stream: s.name, Values: values}).Result()
	if err != nil {
		t.Fatalf("XADD %s: %v", s.name, err)
	}
	return id
}

// addEvents appends the events and sets the instance's watermark to the
// last seq, as the gateway's publisher does. It returns the entry ids.
func (s *testStream) addEvents(t testing.TB, events []audit.Event) []string {
	t.Helper()
	ids := make([]string, len(events))
	for i := range events {
		ids[i] = s.add(t, events[i].Fields())
	}
	if n := len(events); n > 0 {
		last := events[n-1]
		if err := s.client.HSet(context.Background(), s.name+audit.WatermarkSuffix, last.Instance, last.Seq).Err(); err != nil {
			t.Fatalf("HSET watermark: %v", err)
		}
	}
	return ids
}

// source returns the Source of s.
func (s *testStream) source() Source {
	return Source{RedisURL: s.server.URL(), Stream: s.name}
}

// testRunner returns a Runner with captured output, the chain key in its
// environment and the clock at now.
func testRunner(chainKey string, now time.Time) (*Runner, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	r := &Runner{
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(name string) string {
			if name == ChainKeyEnv {
				return chainKey
			}
			return ""
		},
		Now:     func() time.Time { return now },
		Timeout: 2 * time.Second,
	}
	return r, &stdout, &stderr
}
