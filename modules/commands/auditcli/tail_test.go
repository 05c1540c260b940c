package auditcli

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/awra/awragate/policy/audit"
)

// entryOf returns ev as it reads back from the stream.
func entryOf(id string, ev audit.Event) audit.Entry {
	return audit.NewEntry(id, ev.Fields())
}

func TestFormatLine(t *testing.T) {
	key := newChainKey(t)
	base := chainEvents(key, "gw1-0a1b2c3d", 2)

	admin := base[1]
	admin.Module, admin.Decision, admin.Reason, admin.Status = audit.ModuleAdmin, audit.DecisionAllow, "key_revoked", 0
	admin.ClientIP, admin.PeerIP, admin.Method, admin.Host, admin.Path, admin.Scopes, admin.LatencyUS = "", "", "", "", "", "", 0
	admin.Detail = "keys_file=/etc/awra/keys.json"
	admin.RequestID = ""

	hostile := base[0]
	hostile.Path = "/a b\n2026-01-01T00:00:00.000Z fake:1 api_key allow"
	hostile.Host = "\x1b[2Jevil.example"
	hostile.KeyID = "k\u202eeno"
	hostile.Method = `G"ET`

	dash := base[0]
	dash.KeyID = "-"

	tests := []struct {
		name string
		ev   audit.Event
		want string
	}{
		{"deny", base[0], "2026-01-02T15:04:05.000Z gw1-0a1b2c3d:1 api_key deny key_invalid 401 key=k-odd ip=127.0.0.1 req=req-gw1-0a1b2c3d-1 GET api.example.com /api/inventory/1 10µs"},
		{"allow without reason", base[1], "2026-01-02T15:04:06.000Z gw1-0a1b2c3d:2 api_key allow - 200 key=k-even ip=127.0.0.1 req=req-gw1-0a1b2c3d-2 GET api.example.com /api/inventory/2 11µs"},
		{"admin event with detail", admin, "2026-01-02T15:04:06.000Z gw1-0a1b2c3d:2 admin allow key_revoked - key=k-even ip=- req=- - - - 0s detail=keys_file=/etc/awra/keys.json"},
		{"hostile values quoted", hostile, `2026-01-02T15:04:05.000Z gw1-0a1b2c3d:1 api_key deny key_invalid 401 key="k\u202eeno" ip=127.0.0.1 req=req-gw1-0a1b2c3d-1 "G\"ET" "\x1b[2Jevil.example" "/a b\n2026-01-01T00:00:00.000Z fake:1 api_key allow" 10µs`},
		{"literal dash quoted", dash, `2026-01-02T15:04:05.000Z gw1-0a1b2c3d:1 api_key deny key_invalid 401 key="-" ip=127.0.0.1 req=req-gw1-0a1b2c3d-1 GET api.example.com /api/inventory/1 10µs`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatLine(entryOf("1-0", tt.ev)); got != tt.want {
				t.Errorf("FormatLine() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestFormatLineMalformed(t *testing.T) {
	fields := chainEvents(newChainKey(t), "gw1", 1)[0].Fields()
	fields["seq"] = "1\x1b[31m"
	got := FormatLine(audit.NewEntry("5-0\n", fields))
	want := `"5-0\n" malformed entry: `
	if !strings.HasPrefix(got, want) {
		t.Errorf("FormatLine(malformed) = %q, want prefix %q", got, want)
	}
	if strings.ContainsFunc(got, isControl) {
		t.Errorf("FormatLine(malformed) = %q, want no control characters", got)
	}
}

// FuzzFormatLine checks that no stored value can put a control or
// non-printing character, such as a newline or a terminal escape, into a
// tail line.
func FuzzFormatLine(f *testing.F) {
	f.Add("/api/x", "api.example.com", "k1", "GET", "", "gw1-00000000")
	f.Add("/a\nb", "\x1b[2J", "k\u202e", "G ET", "dropped=3", "gw\x00")
	f.Add("\xff\xfe", "-", "", "", "\u2028", "\t")
	key := []byte("fuzz-chain-key-0123456789abcdef")
	f.Fuzz(func(t *testing.T, path, host, keyID, method, detail, instance string) {
		ev := audit.Event{
			V: audit.SchemaVersion, TS: testEpoch, Instance: instance, Seq: 1,
			Module: audit.ModuleAPIKey, Decision: audit.DecisionDeny,
			Path: path, Host: host, KeyID: keyID, Method: method, Detail: detail,
			RequestID: keyID + host,
		}
		ev.Hash = audit.ComputeHash(key, &ev)
		line := FormatLine(audit.NewEntry("1-0", ev.Fields()))
		for _, c := range line {
			if c != ' ' && !unicode.IsGraphic(c) || c == '\u2028' || c == '\u2029' {
				t.Fatalf("FormatLine() = %q, contains %U", line, c)
			}
		}
	})
}

func BenchmarkFormatLine(b *testing.B) {
	e := entryOf("1-0", chainEvents("bench-chain-key-0123456789abcdef", "gw1-0a1b2c3d", 1)[0])
	b.ReportAllocs()
	for b.Loop() {
		_ = FormatLine(e)
	}
}

func TestTail(t *testing.T) {
	s := startStream(t)
	key := newChainKey(t)
	events := chainEvents(key, "gw1", 5)
	s.addEvents(t, events)

	tests := []struct {
		name      string
		count     int
		wantFirst uint64 // seq of the first line, 0 when no line
		wantLines int
	}{
		{"newest two oldest first", 2, 4, 2},
		{"more than stored", 50, 1, 5},
		{"zero prints nothing", 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, stdout, _ := testRunner("", testEpoch)
			if err := r.Tail(context.Background(), TailArgs{Source: s.source(), Count: tt.count}); err != nil {
				t.Fatalf("Tail() = %v, want nil", err)
			}
			lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			if stdout.Len() == 0 {
				lines = nil
			}
			if len(lines) != tt.wantLines {
				t.Fatalf("Tail(count %d) printed %d lines, want %d:\n%s", tt.count, len(lines), tt.wantLines, stdout)
			}
			if tt.wantLines > 0 {
				want := FormatLine(entryOf("", events[tt.wantFirst-1]))
				if lines[0] != want {
					t.Errorf("Tail() first line = %q, want %q", lines[0], want)
				}
			}
		})
	}
}

// syncBuffer is a strings.Builder safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestTailFollow(t *testing.T) {
	s := startStream(t)
	key := newChainKey(t)
	events := chainEvents(key, "gw1", 4)
	s.addEvents(t, events[:2])

	var stdout, stderr syncBuffer
	r := &Runner{Stdout: &stdout, Stderr: &stderr, Timeout: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Tail(ctx, TailArgs{Source: s.source(), Count: 1, Follow: true}) }()

	waitFor := func(what string, cond func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond(stdout.String()) {
			if time.Now().After(deadline) {
				t.Fatalf("tail --follow: %s not printed within 5s; output:\n%s\nstderr:\n%s", what, stdout.String(), stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("seq 2", func(out string) bool { return strings.Contains(out, "gw1:2 ") })
	s.addEvents(t, events[2:])
	waitFor("seqs 3 and 4", func(out string) bool { return strings.Contains(out, "gw1:4 ") })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Tail(follow) after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Tail(follow) did not return within 5s of the cancel")
	}

	out := stdout.String()
	if strings.Contains(out, "gw1:1 ") {
		t.Errorf("tail --count 1 printed seq 1:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("tail --follow printed %d lines, want 3 (seqs 2, 3, 4):\n%s", n, out)
	}
}

func TestTailUnreachableRedis(t *testing.T) {
	s := startStream(t)
	s.server.Stop()
	r, _, _ := testRunner("", testEpoch)
	err := r.Tail(context.Background(), TailArgs{Source: s.source(), Count: 5})
	if err == nil {
		t.Fatal("Tail() with redis down = nil, want an error")
	}
	for _, want := range []string{"connecting to redis at '" + s.server.URL() + "'", "point --redis at it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Tail() error = %q, want it to contain %q", err, want)
		}
	}
}

func TestTailRejectsBadSource(t *testing.T) {
	tests := []struct {
		name    string
		args    TailArgs
		wantMsg string
	}{
		{"bad url scheme", TailArgs{Source: Source{RedisURL: "http://127.0.0.1:1/0"}}, "--redis 'http://127.0.0.1:1/0': invalid Redis URL"},
		{"password hidden", TailArgs{Source: Source{RedisURL: "redis://u:topsecret@127.0.0.1:1/x"}}, "--redis 'redis://u:xxxxx@127.0.0.1:1/x'"},
		{"control in stream", TailArgs{Source: Source{Stream: "a\nb"}}, `--stream "a\nb": invalid stream name`},
		{"negative count", TailArgs{Count: -1}, "--count '-1'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _, _ := testRunner("", testEpoch)
			err := r.Tail(context.Background(), tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Tail(%+v) = %v, want an error containing %q", tt.args, err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("Tail() error = %q, shows the password", err)
			}
		})
	}
}

func TestTailRedisURLFromEnvironment(t *testing.T) {
	s := startStream(t)
	s.addEvents(t, chainEvents(newChainKey(t), "gw1", 3))
	t.Setenv(RedisURLEnv, s.server.URL())

	r, stdout, _ := testRunner("", testEpoch)
	src := s.source()
	src.RedisURL = ""
	if err := r.Tail(context.Background(), TailArgs{Source: src, Count: 5}); err != nil {
		t.Fatalf("Tail() without --redis = %v, want the stream of %s", err, RedisURLEnv)
	}
	if lines := strings.Count(stdout.String(), "\n"); lines != 3 {
		t.Errorf("Tail() printed %d lines, want 3:\n%s", lines, stdout)
	}
}

func TestTailBadRedisURLInEnvironment(t *testing.T) {
	t.Setenv(RedisURLEnv, "http://u:topsecret@127.0.0.1:1/0")
	r, _, _ := testRunner("", testEpoch)
	err := r.Tail(context.Background(), TailArgs{Count: 1})
	if err == nil {
		t.Fatal("Tail() with a bad URL in the environment = nil, want an error")
	}
	if want := RedisURLEnv + " 'http://u:xxxxx@127.0.0.1:1/0': invalid Redis URL"; !strings.Contains(err.Error(), want) {
		t.Errorf("Tail() error = %q, want it to contain %q", err, want)
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("Tail() error = %q, shows the password", err)
	}
}

func TestErrCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if errCanceled(ctx, context.Canceled) {
		t.Error("errCanceled(live ctx, Canceled) = true, want false")
	}
	cancel()
	if !errCanceled(ctx, context.Canceled) {
		t.Error("errCanceled(canceled ctx, Canceled) = false, want true")
	}
	if errCanceled(ctx, errors.New("connection refused")) {
		t.Error("errCanceled(canceled ctx, other error) = true, want false")
	}
}
