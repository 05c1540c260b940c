package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A spool whose meta bucket contradicts itself is treated as corrupt: it
// is moved aside and a new chain starts.
func TestSpoolMetaChecks(t *testing.T) {
	tests := []struct {
		name   string
		change func(mb *bolt.Bucket) error
	}{
		{"instance missing", func(mb *bolt.Bucket) error { return mb.Delete(metaInstance) }},
		{"format unknown", func(mb *bolt.Bucket) error { return mb.Put(metaFormat, []byte("9")) }},
		{"last_seq malformed", func(mb *bolt.Bucket) error { return mb.Put(metaLastSeq, []byte{1, 2}) }},
		{"cursor beyond last_seq", func(mb *bolt.Bucket) error { return mb.Put(metaCursor, encodeSeq(1000)) }},
		{"last_hash missing", func(mb *bolt.Bucket) error { return mb.Put(metaLastHash, []byte{}) }},
		{"last_hash not hex", func(mb *bolt.Bucket) error { return mb.Put(metaLastHash, []byte(strings.Repeat("x", 64))) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "")
			p := mustOpen(t, cfg)
			oldInstance := p.Instance()
			for i := 0; i < 5; i++ {
				p.Enqueue(requestEvent(i))
			}
			waitFor(t, 5*time.Second, "5 spooled events", func() bool { return p.Stats().LastSeq == 5 })
			mustClose(t, p)

			path := filepath.Join(cfg.SpoolDir, SpoolFileName)
			updateSpoolFile(t, path, func(tx *bolt.Tx) error { return tt.change(tx.Bucket(bucketMeta)) })

			p2 := mustOpen(t, cfg)
			if p2.Instance() == oldInstance {
				t.Fatalf("Instance() after a corrupt spool = %q, want a new epoch", p2.Instance())
			}
			if moved, _ := filepath.Glob(path + ".corrupt-*"); len(moved) != 1 {
				t.Fatalf("corrupt files = %v, want one", moved)
			}
			waitFor(t, 5*time.Second, "the spool_reset event", func() bool { return p2.Stats().LastSeq == 1 })
		})
	}
}

func TestMoveAsideAvoidsExistingNames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SpoolFileName)
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	var targets []string
	for i := 0; i < 3; i++ {
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatalf("writing %s: %v", path, err)
		}
		target, err := moveAside(path, now)
		if err != nil {
			t.Fatalf("moveAside() error = %v", err)
		}
		targets = append(targets, filepath.Base(target))
	}
	want := []string{"audit.db.corrupt-20260506T070809Z", "audit.db.corrupt-20260506T070809Z-1", "audit.db.corrupt-20260506T070809Z-2"}
	for i := range want {
		if targets[i] != want[i] {
			t.Fatalf("moveAside() names = %v, want %v", targets, want)
		}
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	ev := sampleEvent()
	v := ev.values()
	good := encodeRecord(nil, 42, &v)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"unknown format", append([]byte{9}, good[1:]...)},
		{"header only", good[:9]},
		{"truncated value", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"length beyond the record", append(append([]byte{}, good[:9]...), 0xff, 0xff, 0x03, 'a')},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := decodeRecord(tt.data); err == nil {
				t.Fatalf("decodeRecord(%x) error = nil, want an error", tt.data)
			}
		})
	}

	at, got, err := decodeRecord(good)
	if err != nil || at != 42 || got != v {
		t.Fatalf("decodeRecord(good) = %d, %q, %v; want 42 and the values", at, got, err)
	}
}
