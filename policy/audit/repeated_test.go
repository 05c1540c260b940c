package audit

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/internal/testredis"
)

// An entry that stores a field name twice is malformed in the stream and
// in its export, whichever occurrence holds the genuine value: readers
// disagree about which one counts, and the hash covers only one.
func TestRepeatedFieldIsMalformed(t *testing.T) {
	srv := testredis.Start(t)
	client := newClient(t, srv)
	cfg := testConfig(t, srv.URL())
	p := mustOpen(t, cfg)
	p.Enqueue(requestEvent(0))
	waitPublished(t, p, 1, 10*time.Second)
	ctx := context.Background()

	// Re-add the entry with a forged path before the genuine fields, and
	// add a second entry with an extra field named like the export's id
	// member.
	msgs, err := client.XRange(ctx, cfg.Stream, "-", "+").Result()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("XRange = %d entries, %v; want 1", len(msgs), err)
	}
	genuine := []any{}
	for _, name := range FieldNames {
		if v, ok := msgs[0].Values[name]; ok {
			genuine = append(genuine, name, v)
		}
	}
	forged := append([]any{"path", "/admin/wipe"}, genuine...)
	if err := client.XDel(ctx, cfg.Stream, msgs[0].ID).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.XAdd(ctx, &redis.XAddArgs{Stream: cfg.Stream, Values: forged}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.XAdd(ctx, &redis.XAddArgs{Stream: cfg.Stream, Values: []any{"stream_id", "1-1", "v", "1"}}).Err(); err != nil {
		t.Fatal(err)
	}

	var entries []Entry
	if err := ReadStream(ctx, client, cfg.Stream, "", 0, func(e Entry) error {
		entries = append(entries, e)
		return nil
	}); err != nil {
		t.Fatalf("ReadStream: %v", err)
	}
	if len(entries) != 2 {
		t.Fatalf("ReadStream = %d entries, want 2", len(entries))
	}
	if e := entries[0]; e.Err == nil || !strings.Contains(e.Err.Error(), "'path' appears more than once") {
		t.Errorf("stream entry with two paths: Err = %v, want a repeated field", e.Err)
	}
	if got := entries[0].Fields["path"]; got != "/admin/wipe" {
		t.Errorf("stream entry path = %q, want the first occurrence", got)
	}

	var out bytes.Buffer
	if _, err := Export(ctx, client, cfg.Stream, &out); err != nil {
		t.Fatalf("Export: %v", err)
	}
	lines := strings.SplitAfter(out.String(), "\n")
	if !strings.Contains(lines[0], `"path":"/admin/wipe"`) || strings.Count(lines[0], `"path":`) != 2 {
		t.Errorf("exported line = %s, want both paths", lines[0])
	}

	var fromFile []Entry
	if err := ReadJSONLines(strings.NewReader(lines[0]), func(e Entry) error {
		fromFile = append(fromFile, e)
		return nil
	}); err != nil {
		t.Fatalf("ReadJSONLines(first line): %v", err)
	}
	if len(fromFile) != 1 || fromFile[0].Err == nil {
		t.Errorf("exported entry with two paths decodes without error, want a repeated field")
	}
	rep, _ := Verify(fromFile, cfg.ChainKey)
	if rep.OK() {
		t.Error("Verify(export with two paths) = ok, want a problem")
	}

	err = ReadJSONLines(strings.NewReader(lines[1]), func(Entry) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "'stream_id' appears more than once") {
		t.Errorf("ReadJSONLines(line with two stream ids) error = %v, want a repeated stream_id", err)
	}
}
