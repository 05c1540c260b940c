package auditcli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy/audit"
)

// readExport returns the seqs of the entries in an export file, in order,
// and fails the test on an entry that does not decode.
func readExport(t *testing.T, path string) []uint64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the export: %v", err)
	}
	var seqs []uint64
	err = audit.ReadJSONLines(bytes.NewReader(data), func(e audit.Entry) error {
		if e.Err != nil {
			t.Errorf("export entry %s does not decode: %v", e.ID, e.Err)
		}
		seqs = append(seqs, e.Event.Seq)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadJSONLines(export) = %v, want nil", err)
	}
	return seqs
}

func TestExportFilters(t *testing.T) {
	s := startStream(t)
	key := newChainKey(t)
	s.addEvents(t, chainEvents(key, "gw1", 10)) // ts testEpoch+0s .. +9s
	other := chainEvents(key, "gw2", 2)
	other[1].Module = audit.ModuleAdmin // the hash no longer matches, which export ignores
	s.addEvents(t, other)

	// now is 9 s after the last gw1 event, so "10s" back is testEpoch+8s.
	now := testEpoch.Add(18 * time.Second)
	tests := []struct {
		name string
		args ExportArgs
		want []uint64
	}{
		{"everything", ExportArgs{}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2}},
		{"since inclusive until exclusive", ExportArgs{Since: testEpoch.Add(2 * time.Second).Format(time.RFC3339), Until: testEpoch.Add(5 * time.Second).Format(time.RFC3339)},
			[]uint64{3, 4, 5}},
		{"duration back from now", ExportArgs{Since: "10s"}, []uint64{9, 10}},
		{"deny only", ExportArgs{Decision: "deny"}, []uint64{1, 3, 5, 7, 9, 1}},
		{"key", ExportArgs{KeyID: "k-even"}, []uint64{2, 4, 6, 8, 10, 2}},
		{"module", ExportArgs{Module: "admin"}, []uint64{2}},
		{"no match", ExportArgs{KeyID: "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "audit.jsonl")
			args := tt.args
			args.Source, args.Out = s.source(), out

			r, stdout, stderr := testRunner("", now)
			if err := r.Export(context.Background(), args); err != nil {
				t.Fatalf("Export(%+v) = %v, want nil", args, err)
			}
			got := readExport(t, out)
			if !equalSeqs(got, tt.want) {
				t.Errorf("Export(%+v) seqs = %v, want %v", tt.args, got, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("Export() stdout = %q, want nothing", stdout)
			}
			wantNote := "exported " + strconv.Itoa(len(tt.want)) + " of 12 entries of stream 'awra:audit' to '" + out + "'"
			if !strings.Contains(stderr.String(), wantNote) {
				t.Errorf("Export() stderr = %q, want %q", stderr, wantNote)
			}

			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if mode := fi.Mode().Perm(); mode != 0o600 {
				t.Errorf("export mode = %v, want 0600", mode)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("export directory holds %d files, want only the export (no temporary file)", len(entries))
			}
		})
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestExportKeepsMalformedEntries(t *testing.T) {
	s := startStream(t)
	key := newChainKey(t)
	events := chainEvents(key, "gw1", 3)
	s.addEvents(t, events[:1])

	bad := events[1].Fields()
	bad["seq"] = "two"
	s.add(t, bad)
	noTS := events[2].Fields()
	noTS["ts"] = "yesterday"
	s.add(t, noTS)

	out := filepath.Join(t.TempDir(), "audit.jsonl")
	r, _, stderr := testRunner("", testEpoch.Add(time.Hour))
	// The window excludes the first event (ts +0s) and the second one
	// (+1s, read from its raw field); the third has no readable ts.
	err := r.Export(context.Background(), ExportArgs{Source: s.source(), Out: out, Since: testEpoch.Add(1500 * time.Millisecond).Format(time.RFC3339Nano)})
	if err != nil {
		t.Fatalf("Export() = %v, want nil", err)
	}

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(data), "\n"); got != 1 || !strings.Contains(string(data), `"ts":"yesterday"`) {
		t.Errorf("export = %q, want only the entry whose ts cannot be read", data)
	}
	if !strings.Contains(stderr.String(), "warning: 1 exported entries do not decode") {
		t.Errorf("Export() stderr = %q, want a warning about the malformed entry", stderr)
	}
}

func TestExportFailureKeepsOldFile(t *testing.T) {
	s := startStream(t)
	s.addEvents(t, chainEvents(newChainKey(t), "gw1", 2))
	dir := t.TempDir()
	out := filepath.Join(dir, "audit.jsonl")
	if err := os.WriteFile(out, []byte("previous export\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A stream key of another type makes XRANGE fail after the temporary
	// file was created.
	if err := s.client.Set(context.Background(), "not-a-stream", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r, _, _ := testRunner("", testEpoch)
	err := r.Export(context.Background(), ExportArgs{Source: Source{RedisURL: s.server.URL(), Stream: "not-a-stream"}, Out: out})
	if err == nil || !strings.Contains(err.Error(), "reading audit stream 'not-a-stream'") {
		t.Fatalf("Export(wrong key type) = %v, want a read error naming the stream", err)
	}
	if data, _ := os.ReadFile(out); string(data) != "previous export\n" {
		t.Errorf("export file after a failed export = %q, want the previous content", data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d files after a failed export, want 1 (the temporary file removed)", len(entries))
	}
}

func TestExportMissingDirectory(t *testing.T) {
	s := startStream(t)
	out := filepath.Join(t.TempDir(), "missing", "audit.jsonl")
	r, _, _ := testRunner("", testEpoch)
	err := r.Export(context.Background(), ExportArgs{Source: s.source(), Out: out})
	if err == nil || !strings.Contains(err.Error(), "--out '"+out+"'") || !strings.Contains(err.Error(), "existing, writable directory") {
		t.Errorf("Export(missing directory) = %v, want an error naming --out and the fix", err)
	}
}
