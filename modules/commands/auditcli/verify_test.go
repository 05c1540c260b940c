package auditcli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awra/awragate/policy/audit"
)

func TestVerifyIntactStream(t *testing.T) {
	s := startStream(t)
	key := newChainKey(t)
	s.addEvents(t, chainEvents(key, "gw1-aaaaaaaa", 5))
	s.addEvents(t, chainEvents(key, "gw2-bbbbbbbb", 3))

	r, stdout, stderr := testRunner(key, testEpoch)
	if err := r.Verify(context.Background(), VerifyArgs{Source: s.source()}); err != nil {
		t.Fatalf("Verify() = %v, want nil; stderr:\n%s", err, stderr)
	}
	for _, want := range []string{
		"stream 'awra:audit': 8 entries, 2 instances\n",
		"instance gw1-aaaaaaaa: 5 entries, seq 1-5, watermark 5, dropped 0, lost none, unclean restarts 0, spool resets 0\n",
		"instance gw2-bbbbbbbb: 3 entries, seq 1-3, watermark 3,",
		"ok: every chain is intact\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("Verify() stdout = %q, want it to contain %q", stdout, want)
		}
	}
	if strings.Contains(stdout.String()+stderr.String(), key) {
		t.Error("Verify() output contains the chain key")
	}
}

// tamperCase changes a copy of a 6-event chain before it is stored. It
// returns the index of the entry verify must name first, and the text its
// problem must contain.
type tamperCase struct {
	name      string
	tamper    func(events []audit.Event) []audit.Event
	afterAdd  func(t *testing.T, s *testStream, ids []string)
	wantIndex int
	wantMsg   string
}

func TestVerifyDetectsTampering(t *testing.T) {
	s := startStream(t)
	key := newChainKey(t)
	tests := []tamperCase{
		{name: "changed decision", wantIndex: 2, wantMsg: "hash does not match",
			tamper: func(ev []audit.Event) []audit.Event { ev[2].Decision = audit.DecisionAllow; return ev }},
		{name: "changed path", wantIndex: 4, wantMsg: "[hash_mismatch]",
			tamper: func(ev []audit.Event) []audit.Event { ev[4].Path = "/api/other"; return ev }},
		{name: "deleted entry", wantIndex: 2, wantMsg: "seq 3 is missing before seq 4",
			tamper: func(ev []audit.Event) []audit.Event { return append(ev[:2:2], ev[3:]...) }},
		{name: "swapped entries", wantIndex: 2, wantMsg: "seq 2 comes after seq 3",
			tamper: func(ev []audit.Event) []audit.Event { ev[1], ev[2] = ev[2], ev[1]; return ev }},
		{name: "rehashed with another key", wantIndex: 1, wantMsg: "hash does not match",
			tamper: func(ev []audit.Event) []audit.Event {
				ev[1].Status = 200
				ev[1].Hash = audit.ComputeHash([]byte("attacker-key-0123456789abcdef"), &ev[1])
				return ev
			}},
		{name: "duplicated entry", wantIndex: 3, wantMsg: "seq 3 appears more than once",
			tamper: func(ev []audit.Event) []audit.Event {
				return append(ev[:3:3], append([]audit.Event{ev[2]}, ev[3:]...)...)
			}},
		{name: "last entry deleted", wantIndex: 4, wantMsg: "seq 6 is missing after this last entry, but redis's watermark is 6",
			afterAdd: func(t *testing.T, s *testStream, ids []string) {
				if err := s.client.XDel(context.Background(), s.name, ids[5]).Err(); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "forged loss declaration", wantIndex: 3, wantMsg: "seq 4 is missing before seq 5",
			tamper: func(ev []audit.Event) []audit.Event {
				// Seq 4 is deleted and a note declaring it lost is appended,
				// but the note cannot carry a valid hash, so its
				// declaration is ignored.
				note := ev[5]
				note.Seq, note.PrevHash = 7, ev[5].Hash
				note.Module, note.Decision, note.Reason, note.Detail = audit.ModuleAudit, audit.DecisionDeny, audit.ReasonEventsLost, "lost=4-4"
				note.Hash = audit.ComputeHash([]byte("attacker-key-0123456789abcdef"), &note)
				return append(append(ev[:3:3], ev[4:]...), note)
			}},
		{name: "malformed entry", wantIndex: 0, wantMsg: "entry does not decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.name = "tamper:" + strings.ReplaceAll(tt.name, " ", "-")
			events := chainEvents(key, "gw1", 6)
			if tt.tamper != nil {
				events = tt.tamper(events)
			}
			var ids []string
			if tt.name == "malformed entry" {
				fields := events[0].Fields()
				fields["status"] = "OK"
				ids = []string{s.add(t, fields)}
				ids = append(ids, s.addEvents(t, events[1:])...)
			} else {
				ids = s.addEvents(t, events)
			}
			if tt.afterAdd != nil {
				tt.afterAdd(t, s, ids)
			}

			r, _, stderr := testRunner(key, testEpoch)
			err := r.Verify(context.Background(), VerifyArgs{Source: s.source()})
			if !errors.Is(err, ErrVerifyFailed) {
				t.Fatalf("Verify(%s) = %v, want ErrVerifyFailed", tt.name, err)
			}
			wantEntry := "entry '" + ids[tt.wantIndex] + "' (instance 'gw1', seq "
			if !strings.Contains(err.Error(), wantEntry) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Verify(%s) error = %q, want it to name %q and say %q", tt.name, err, wantEntry, tt.wantMsg)
			}
			if !strings.Contains(stderr.String(), "problem: "+wantEntry) {
				t.Errorf("Verify(%s) stderr = %q, want a problem line for %q", tt.name, stderr, wantEntry)
			}
		})
	}
}

func TestVerifyFromFile(t *testing.T) {
	s := startStream(t)
	key := newChainKey(t)
	s.addEvents(t, chainEvents(key, "gw1", 4))
	out := filepath.Join(t.TempDir(), "audit.jsonl")
	r, _, _ := testRunner(key, testEpoch)
	if err := r.Export(context.Background(), ExportArgs{Source: s.source(), Out: out}); err != nil {
		t.Fatalf("Export() = %v", err)
	}

	t.Run("intact", func(t *testing.T) {
		r, stdout, _ := testRunner(key, testEpoch)
		if err := r.Verify(context.Background(), VerifyArgs{FromFile: out}); err != nil {
			t.Fatalf("Verify(from file) = %v, want nil", err)
		}
		for _, want := range []string{"file '" + out + "': 4 entries, 1 instance", "instance gw1: 4 entries, seq 1-4, dropped 0", "note: a file carries no watermarks", "ok: every chain is intact"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("Verify(from file) stdout = %q, want %q", stdout, want)
			}
		}
	})

	t.Run("edited line", func(t *testing.T) {
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		edited := filepath.Join(t.TempDir(), "edited.jsonl")
		lines := strings.SplitAfter(string(data), "\n")
		lines[1] = strings.Replace(lines[1], `"status":"200"`, `"status":"403"`, 1)
		if err := os.WriteFile(edited, []byte(strings.Join(lines, "")), 0o600); err != nil {
			t.Fatal(err)
		}
		r, _, _ := testRunner(key, testEpoch)
		err = r.Verify(context.Background(), VerifyArgs{FromFile: edited})
		if !errors.Is(err, ErrVerifyFailed) || !strings.Contains(err.Error(), "seq 2): hash does not match") {
			t.Errorf("Verify(edited file) = %v, want a hash mismatch at seq 2", err)
		}
	})

	t.Run("not json lines", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.jsonl")
		if err := os.WriteFile(bad, []byte("{\"stream_id\":\"1-0\"}\nnot json\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r, _, _ := testRunner(key, testEpoch)
		err := r.Verify(context.Background(), VerifyArgs{FromFile: bad})
		if err == nil || errors.Is(err, ErrVerifyFailed) || !strings.Contains(err.Error(), "--from-file '"+bad+"': audit export line 2") {
			t.Errorf("Verify(not JSON Lines) = %v, want a read error naming the file and line 2", err)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		r, _, _ := testRunner(key, testEpoch)
		err := r.Verify(context.Background(), VerifyArgs{FromFile: filepath.Join(t.TempDir(), "none.jsonl")})
		if err == nil || !strings.Contains(err.Error(), "written by 'awragate audit export'") {
			t.Errorf("Verify(missing file) = %v, want an error with the fix", err)
		}
	})
}

func TestVerifyChainKeyFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		wantMsg string
	}{
		{"missing", "", "missing chain key: set the AWRA_AUDIT_CHAIN_KEY environment variable"},
		{"too short", "short-key", "invalid chain key in AWRA_AUDIT_CHAIN_KEY: it is 9 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _, _ := testRunner(tt.key, testEpoch)
			err := r.Verify(context.Background(), VerifyArgs{FromFile: "unused.jsonl"})
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Verify(key %q) = %v, want %q", tt.name, err, tt.wantMsg)
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Errorf("Verify() error = %q, shows the key", err)
			}
		})
	}
}

func TestVerifyNothingToCheck(t *testing.T) {
	s := startStream(t)
	key := newChainKey(t)

	r, _, _ := testRunner(key, testEpoch)
	err := r.Verify(context.Background(), VerifyArgs{Source: s.source()})
	if err == nil || errors.Is(err, ErrVerifyFailed) || !strings.Contains(err.Error(), "nothing to verify: stream 'awra:audit' has no entries") {
		t.Errorf("Verify(empty stream) = %v, want a nothing-to-verify error", err)
	}

	s.addEvents(t, chainEvents(key, "gw1", 3))
	if err := s.client.Del(context.Background(), s.name).Err(); err != nil {
		t.Fatal(err)
	}
	r, stdout, _ := testRunner(key, testEpoch)
	err = r.Verify(context.Background(), VerifyArgs{Source: s.source()})
	if !errors.Is(err, ErrVerifyFailed) || !strings.Contains(err.Error(), "the stream was deleted or emptied") {
		t.Errorf("Verify(deleted stream) = %v, want ErrVerifyFailed saying it was deleted", err)
	}
	if want := "instance gw1: no entries, watermark 3"; !strings.Contains(stdout.String(), want) {
		t.Errorf("Verify(deleted stream) stdout = %q, want %q", stdout, want)
	}
}

// A chain that declares dropped events passes by default and fails with
// --fail-on-loss, which names the instance.
func TestVerifyFailOnLoss(t *testing.T) {
	s := startStream(t)
	key := newChainKey(t)
	events := chainEvents(key, "gw1-aaaaaaaa", 4)
	// Turn seq 3 into the gateway's note about dropped events, re-chained.
	events[2].Module, events[2].Decision, events[2].Reason = audit.ModuleAudit, audit.DecisionDeny, audit.ReasonEventsDropped
	events[2].Detail, events[2].KeyID, events[2].Status = "dropped=7 queue_full=7 queue_bytes=0 spool_error=0", "", 0
	for i := 2; i < len(events); i++ {
		events[i].PrevHash = events[i-1].Hash
		events[i].Hash = audit.ComputeHash([]byte(key), &events[i])
	}
	s.addEvents(t, events)

	r, stdout, stderr := testRunner(key, testEpoch)
	if err := r.Verify(context.Background(), VerifyArgs{Source: s.source()}); err != nil {
		t.Fatalf("Verify() = %v, want nil; stderr:\n%s", err, stderr)
	}
	if !strings.Contains(stdout.String(), "dropped 7,") {
		t.Errorf("Verify() stdout = %q, want the dropped count", stdout)
	}

	r, _, _ = testRunner(key, testEpoch)
	err := r.Verify(context.Background(), VerifyArgs{Source: s.source(), FailOnLoss: true})
	if !errors.Is(err, ErrVerifyFailed) || !strings.Contains(err.Error(), "instance gw1-aaaaaaaa declares 7 events dropped") {
		t.Errorf("Verify(--fail-on-loss) = %v, want ErrVerifyFailed naming the instance and the count", err)
	}
}
