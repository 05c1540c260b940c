package audit

import (
	"fmt"
	"slices"
	"testing"
)

// chainBuilder makes valid chains the way the writer does.
type chainBuilder struct {
	key    []byte
	nextID int
	last   map[string]*Event
}

func newChainBuilder(t *testing.T) *chainBuilder {
	return &chainBuilder{key: testChainKey(t), last: map[string]*Event{}}
}

// add appends the next event of instance and returns its entry.
func (b *chainBuilder) add(instance string, ev *Event) Entry {
	prev := b.last[instance]
	ev.V, ev.Instance, ev.Seq = SchemaVersion, instance, 1
	if prev != nil {
		ev.Seq, ev.PrevHash = prev.Seq+1, prev.Hash
	}
	ev.sanitize()
	ev.Hash = ComputeHash(b.key, ev)
	b.last[instance] = ev
	b.nextID++
	return NewEntry(fmt.Sprintf("%d-0", b.nextID), ev.Fields())
}

// entries returns n request events of instance "gw-a".
func (b *chainBuilder) entries(n int) []Entry {
	out := make([]Entry, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, b.add("gw-a", requestEvent(i)))
	}
	return out
}

func TestVerifyAcceptsValidChains(t *testing.T) {
	b := newChainBuilder(t)
	var entries []Entry
	for i := 1; i <= 10; i++ {
		// Two instances interleaved, as in a shared stream.
		entries = append(entries, b.add("gw-a", requestEvent(i)), b.add("gw-b", requestEvent(i)))
	}
	rep, err := Verify(entries, b.key)
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	if !rep.OK() {
		t.Fatalf("Verify() = %v, want no problem", rep.Err())
	}
	if rep.Entries != 20 || len(rep.Instances) != 2 {
		t.Fatalf("Verify() = %d entries in %d instances, want 20 in 2", rep.Entries, len(rep.Instances))
	}
	for _, in := range rep.Instances {
		if in.FirstSeq != 1 || in.LastSeq != 10 || !in.FromGenesis || in.Entries != 10 {
			t.Fatalf("instance report %+v, want seqs 1-10 from genesis", in)
		}
	}
}

func TestVerifyAcceptsTrimmedHead(t *testing.T) {
	b := newChainBuilder(t)
	entries := b.entries(10)[4:]
	rep, _ := Verify(entries, b.key)
	if !rep.OK() {
		t.Fatalf("Verify(trimmed head) = %v, want no problem", rep.Err())
	}
	if in := rep.Instances[0]; in.FirstSeq != 5 || in.FromGenesis {
		t.Fatalf("instance report %+v, want FirstSeq 5 and not FromGenesis", in)
	}
}

// Each tampering is reported at the entry named, with the kind named.
func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(b *chainBuilder, es []Entry) []Entry
		wantKind ProblemKind
		wantID   string
		wantSeq  uint64
	}{
		{
			name: "changed field",
			tamper: func(b *chainBuilder, es []Entry) []Entry {
				f := es[4].Fields
				f["decision"] = "allow"
				es[4] = NewEntry(es[4].ID, f)
				return es
			},
			wantKind: ProblemHash, wantID: "5-0", wantSeq: 5,
		},
		{
			name: "changed seq",
			tamper: func(b *chainBuilder, es []Entry) []Entry {
				f := es[4].Fields
				f["seq"] = "55"
				es[4] = NewEntry(es[4].ID, f)
				return es
			},
			wantKind: ProblemHash, wantID: "5-0", wantSeq: 55,
		},
		{
			name: "field made malformed",
			tamper: func(b *chainBuilder, es []Entry) []Entry {
				f := es[2].Fields
				f["status"] = "four hundred"
				es[2] = NewEntry(es[2].ID, f)
				return es
			},
			wantKind: ProblemMalformed, wantID: "3-0", wantSeq: 3,
		},
		{
			name:     "deleted entry",
			tamper:   func(b *chainBuilder, es []Entry) []Entry { return slices.Delete(es, 5, 6) },
			wantKind: ProblemGap, wantID: "7-0", wantSeq: 7,
		},
		{
			name: "swapped entries",
			tamper: func(b *chainBuilder, es []Entry) []Entry {
				es[3], es[4] = es[4], es[3]
				return es
			},
			wantKind: ProblemOrder, wantID: "4-0", wantSeq: 4,
		},
		{
			name:     "duplicated entry",
			tamper:   func(b *chainBuilder, es []Entry) []Entry { return slices.Insert(es, 6, es[5]) },
			wantKind: ProblemDuplicate, wantID: "6-0", wantSeq: 6,
		},
		{
			name: "entry replaced by one chained with another key",
			tamper: func(b *chainBuilder, es []Entry) []Entry {
				other := &chainBuilder{key: testChainKey(t), last: map[string]*Event{}}
				forged := other.entries(10)
				es[7] = forged[7]
				return es
			},
			wantKind: ProblemHash, wantID: "8-0", wantSeq: 8,
		},
		{
			name: "prev_hash rewritten",
			tamper: func(b *chainBuilder, es []Entry) []Entry {
				f := es[8].Fields
				f["prev_hash"] = es[2].Event.Hash
				es[8] = NewEntry(es[8].ID, f)
				return es
			},
			wantKind: ProblemHash, wantID: "9-0", wantSeq: 9,
		},
		{
			name: "seq 1 with a prev_hash",
			tamper: func(b *chainBuilder, es []Entry) []Entry {
				ev := es[0].Event
				ev.PrevHash = es[5].Event.Hash
				ev.Hash = ComputeHash(b.key, &ev)
				es[0] = NewEntry(es[0].ID, ev.Fields())
				return es
			},
			wantKind: ProblemGenesis, wantID: "1-0", wantSeq: 1,
		},
		{
			name: "validly hashed entry inserted into the chain",
			tamper: func(b *chainBuilder, es []Entry) []Entry {
				// Only a holder of the chain key can do this; the link still breaks.
				ev := es[3].Event
				ev.PrevHash = es[0].Event.Hash
				ev.Hash = ComputeHash(b.key, &ev)
				es[3] = NewEntry(es[3].ID, ev.Fields())
				return es
			},
			wantKind: ProblemChain, wantID: "4-0", wantSeq: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newChainBuilder(t)
			entries := tt.tamper(b, b.entries(10))
			rep, err := Verify(entries, b.key)
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if rep.OK() {
				t.Fatal("Verify(tampered) reported no problem")
			}
			first := rep.Problems[0]
			if first.Kind != tt.wantKind || first.StreamID != tt.wantID || first.Seq != tt.wantSeq || first.Instance != "gw-a" {
				t.Fatalf("first problem = %v (kind %s), want kind %s at entry %s seq %d", first, first.Kind, tt.wantKind, tt.wantID, tt.wantSeq)
			}
		})
	}
}

func TestVerifyWrongKey(t *testing.T) {
	b := newChainBuilder(t)
	rep, _ := Verify(b.entries(3), testChainKey(t))
	if rep.ProblemCount != 3 || rep.Problems[0].Kind != ProblemHash {
		t.Fatalf("Verify(wrong key) = %d problems, first %v, want 3 hash mismatches", rep.ProblemCount, rep.Err())
	}
}

func TestVerifyRejectsShortKey(t *testing.T) {
	if _, err := Verify(nil, make([]byte, MinChainKeyLen-1)); err == nil {
		t.Fatal("Verify(short key) error = nil, want an error")
	}
}

// lostChain returns entries 1-10 of gw-a with seqs 4-6 missing, and the
// events_lost declaration made by sign (a chain builder) when declare is
// set.
func lostChain(b *chainBuilder, declare *chainBuilder, detail string) []Entry {
	es := b.entries(10)
	es = slices.Delete(es, 3, 6)
	note := &Event{Module: ModuleAudit, Decision: DecisionDeny, Reason: ReasonEventsLost, Detail: detail}
	if declare == b {
		return append(es, b.add("gw-a", note))
	}
	// A declaration signed with another key, placed at the right seq.
	declare.last["gw-a"] = b.last["gw-a"]
	return append(es, declare.add("gw-a", note))
}

func TestVerifyGapDeclaration(t *testing.T) {
	t.Run("declared gap passes", func(t *testing.T) {
		b := newChainBuilder(t)
		rep, _ := Verify(lostChain(b, b, "lost=4-6"), b.key)
		if !rep.OK() {
			t.Fatalf("Verify(declared gap) = %v, want no problem", rep.Err())
		}
		if got, want := rep.Instances[0].Lost, []SeqRange{{4, 6}}; !slices.Equal(got, want) {
			t.Fatalf("Lost = %v, want %v", got, want)
		}
	})
	t.Run("declaration too short", func(t *testing.T) {
		b := newChainBuilder(t)
		rep, _ := Verify(lostChain(b, b, "lost=4-5"), b.key)
		if rep.OK() || rep.Problems[0].Kind != ProblemGap || rep.Problems[0].Seq != 7 {
			t.Fatalf("Verify(partly declared gap) first problem = %v, want a gap before seq 7", rep.Err())
		}
	})
	t.Run("declaration malformed", func(t *testing.T) {
		b := newChainBuilder(t)
		rep, _ := Verify(lostChain(b, b, "lost=6-4"), b.key)
		if rep.OK() || rep.Problems[0].Kind != ProblemGap {
			t.Fatalf("Verify(malformed declaration) first problem = %v, want a gap", rep.Err())
		}
	})
	t.Run("forged declaration", func(t *testing.T) {
		b := newChainBuilder(t)
		forger := &chainBuilder{key: testChainKey(t), last: map[string]*Event{}}
		rep, _ := Verify(lostChain(b, forger, "lost=4-6"), b.key)
		kinds := map[ProblemKind]bool{}
		for _, p := range rep.Problems {
			kinds[p.Kind] = true
		}
		if !kinds[ProblemHash] || !kinds[ProblemGap] {
			t.Fatalf("Verify(forged declaration) problems = %v, want a hash mismatch and an undeclared gap", rep.Problems)
		}
	})
	t.Run("undeclared gap fails", func(t *testing.T) {
		b := newChainBuilder(t)
		es := slices.Delete(b.entries(10), 3, 6)
		rep, _ := Verify(es, b.key)
		if rep.OK() || rep.Problems[0].Kind != ProblemGap || rep.Problems[0].StreamID != "7-0" {
			t.Fatalf("Verify(undeclared gap) first problem = %v, want a gap at entry 7-0", rep.Err())
		}
	})
}

func TestVerifyDroppedEventsAreReported(t *testing.T) {
	b := newChainBuilder(t)
	es := b.entries(3)
	es = append(es, b.add("gw-a", &Event{Module: ModuleAudit, Decision: DecisionDeny, Reason: ReasonEventsDropped,
		Detail: "dropped=7 queue_full=5 queue_bytes=2 spool_error=0"}))
	rep, _ := Verify(es, b.key)
	if !rep.OK() {
		t.Fatalf("Verify() = %v, want no problem", rep.Err())
	}
	if got := rep.Instances[0].Dropped; got != 7 {
		t.Fatalf("Dropped = %d, want 7", got)
	}
}

func TestVerifyWatermarks(t *testing.T) {
	b := newChainBuilder(t)
	es := b.entries(10)

	tests := []struct {
		name       string
		entries    []Entry
		watermarks map[string]uint64
		wantKind   ProblemKind // "" for none
	}{
		{"complete", es, map[string]uint64{"gw-a": 10}, ""},
		{"tail removed", es[:8], map[string]uint64{"gw-a": 10}, ProblemMissingEnd},
		{"watermark behind the stream", es, map[string]uint64{"gw-a": 9}, ""},
		{"instance fully trimmed", es, map[string]uint64{"gw-a": 10, "gw-old": 500}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(b.key)
			if err != nil {
				t.Fatalf("NewVerifier() error = %v", err)
			}
			v.SetWatermarks(tt.watermarks)
			for _, e := range tt.entries {
				v.Add(e)
			}
			rep := v.Report()
			var got ProblemKind
			if !rep.OK() {
				got = rep.Problems[0].Kind
			}
			if got != tt.wantKind {
				t.Fatalf("first problem = %v, want kind %q", rep.Err(), tt.wantKind)
			}
		})
	}
}
