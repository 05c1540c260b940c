package audit

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/internal/testredis"
)

func TestExportRoundTrip(t *testing.T) {
	srv := testredis.Start(t)
	client := newClient(t, srv)
	cfg := testConfig(t, srv.URL())
	p := mustOpen(t, cfg)
	for i := 0; i < 50; i++ {
		ev := requestEvent(i)
		ev.Path = "/odd \"path\"\n\t\u00e9" // escapes survive the export
		p.Enqueue(ev)
	}
	waitPublished(t, p, 50, 10*time.Second)

	ctx := context.Background()
	watermarks, err := ReadWatermarks(ctx, client, cfg.Stream)
	if err != nil {
		t.Fatalf("ReadWatermarks() error = %v", err)
	}
	if got := watermarks[p.Instance()]; got != 50 {
		t.Fatalf("ReadWatermarks()[%s] = %d, want 50", p.Instance(), got)
	}

	var out bytes.Buffer
	n, err := Export(ctx, client, cfg.Stream, &out)
	if err != nil || n != 50 {
		t.Fatalf("Export() = %d, %v; want 50, nil", n, err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != 50 {
		t.Fatalf("Export() wrote %d lines, want 50", lines)
	}
	if !strings.HasPrefix(out.String(), `{"stream_id":"`) {
		t.Fatalf("export starts with %.40q, want the stream_id member first", out.String())
	}

	v, err := NewVerifier(cfg.ChainKey)
	if err != nil {
		t.Fatalf("NewVerifier() error = %v", err)
	}
	v.SetWatermarks(watermarks)
	if err := ReadJSONLines(bytes.NewReader(out.Bytes()), func(e Entry) error {
		v.Add(e)
		return nil
	}); err != nil {
		t.Fatalf("ReadJSONLines(export) error = %v", err)
	}
	if rep := v.Report(); !rep.OK() || rep.Entries != 50 {
		t.Fatalf("Verify(export) = %d entries, %v; want 50 and no problem", rep.Entries, rep.Err())
	}

	// An edit to the exported file is found.
	tampered := strings.Replace(out.String(), `"decision":"deny"`, `"decision":"allow"`, 1)
	var entries []Entry
	if err := ReadJSONLines(strings.NewReader(tampered), func(e Entry) error {
		entries = append(entries, e)
		return nil
	}); err != nil {
		t.Fatalf("ReadJSONLines(tampered) error = %v", err)
	}
	rep, _ := Verify(entries, cfg.ChainKey)
	if rep.OK() || rep.Problems[0].Kind != ProblemHash || rep.Problems[0].Seq != 1 {
		t.Fatalf("Verify(tampered export) first problem = %v, want a hash mismatch at seq 1", rep.Err())
	}
}

func TestReadJSONLinesRejects(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"not JSON", "hello\n", "line 1: not a JSON object"},
		{"array", "[1]\n", "line 1: not a JSON object"},
		{"number member", `{"stream_id":"1-0","seq":1}`, "member 'seq' is not a string"},
		{"null member", `{"stream_id":"1-0","seq":null}`, "member 'seq' is not a string"},
		{"missing stream id", `{"seq":"1"}`, "member 'stream_id' is missing"},
		{"bad second line", "{\"stream_id\":\"1-0\"}\n\n{", "line 3"},
		{"line too long", `{"stream_id":"` + strings.Repeat("a", MaxJSONLine) + `"}`, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ReadJSONLines(strings.NewReader(tt.input), func(Entry) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadJSONLines(%.40q) error = %v, want one containing %q", tt.input, err, tt.want)
			}
		})
	}
}

// A line with the right shape but wrong fields reaches the verifier as a
// malformed entry instead of stopping the read.
func TestReadJSONLinesPassesMalformedEntries(t *testing.T) {
	var got []Entry
	err := ReadJSONLines(strings.NewReader(`{"stream_id":"9-0","seq":"x"}`), func(e Entry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadJSONLines() error = %v", err)
	}
	if len(got) != 1 || got[0].ID != "9-0" || got[0].Err == nil {
		t.Fatalf("ReadJSONLines() = %+v, want one entry 9-0 with a decoding error", got)
	}
}

func TestAppendJSONLineKeepsExtraFields(t *testing.T) {
	line := AppendJSONLine(nil, Entry{ID: "1-0", Fields: map[string]string{"seq": "1", "zz": "2", "aa": "3"}})
	want := `{"stream_id":"1-0","seq":"1","aa":"3","zz":"2"}` + "\n"
	if string(line) != want {
		t.Fatalf("AppendJSONLine() = %s, want %s", line, want)
	}
}
