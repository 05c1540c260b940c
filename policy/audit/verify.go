package audit

import (
	"fmt"
	"iter"
	"slices"
	"strings"
)

// MaxProblems is the number of problems a Report lists; ProblemCount
// counts them all.
const MaxProblems = 100

// ProblemKind classifies a verification failure.
type ProblemKind string

// Problem kinds.
const (
	ProblemMalformed  ProblemKind = "malformed"     // the fields do not decode
	ProblemHash       ProblemKind = "hash_mismatch" // the hash does not cover the fields: changed, or wrong key
	ProblemChain      ProblemKind = "chain_broken"  // prev_hash is not the hash of the previous seq
	ProblemGenesis    ProblemKind = "bad_genesis"   // seq 1 with a prev_hash
	ProblemDuplicate  ProblemKind = "duplicate"     // a seq appears twice
	ProblemOrder      ProblemKind = "out_of_order"  // a seq appears after a higher one
	ProblemGap        ProblemKind = "gap"           // seqs missing and not declared lost
	ProblemMissingEnd ProblemKind = "missing_tail"  // the last seqs below the watermark are missing
)

// Problem is one verification failure, located by the entry it was found
// at.
type Problem struct {
	Kind     ProblemKind
	StreamID string // stream entry id
	Instance string
	Seq      uint64
	Message  string

	index int // position of the entry in the input, for ordering
}

// Error formats the problem as "entry 'ID' (instance 'I', seq N): message",
// with control characters in the id and instance escaped.
func (p Problem) Error() string {
	return fmt.Sprintf("entry '%s' (instance '%s', seq %d): %s", truncate(p.StreamID), truncate(p.Instance), p.Seq, p.Message)
}

// SeqRange is an inclusive range of seqs.
type SeqRange struct {
	From, To uint64
}

func (r SeqRange) contains(seq uint64) bool { return r.From <= seq && seq <= r.To }

// InstanceReport summarizes one instance chain.
type InstanceReport struct {
	Instance    string
	Entries     int
	FirstSeq    uint64
	LastSeq     uint64
	FromGenesis bool       // FirstSeq is 1; otherwise older entries were trimmed or removed
	Watermark   uint64     // Redis's watermark, when given to SetWatermarks
	Dropped     uint64     // events dropped before sequencing, declared by events_dropped events
	Lost        []SeqRange // missing seqs declared by events_lost events
	Unclean     int        // unclean_restart events
	SpoolResets int        // spool_reset events
}

// Report is the result of verifying a stream.
type Report struct {
	Entries      int
	Instances    []InstanceReport // sorted by instance id
	Problems     []Problem        // the first MaxProblems, in input order
	ProblemCount int
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return r.ProblemCount == 0 }

// Err returns the first problem as an error, or nil.
func (r *Report) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	return r.Problems[0]
}

// Verifier checks hash chains entry by entry, so a stream of any length
// can be checked in one pass. Per instance it checks that each hash covers
// its entry, that each prev_hash is the hash of the seq before, that seqs
// appear once and in order, and that missing seqs are declared by an
// events_lost event of that instance. It cannot detect the removal of an
// instance's oldest entries (indistinguishable from trimming), nor of its
// newest ones unless SetWatermarks was called.
//
// A Verifier is not safe for concurrent use.
type Verifier struct {
	hasher     *chainHasher
	watermarks map[string]uint64
	chains     map[string]*chainState
	entries    int
	problems   []Problem
	count      int
}

// chainState is the Verifier's record of one instance: the last entry, the
// gaps found so far and a sparse bitmap of the seqs seen.
type chainState struct {
	report   InstanceReport
	lastSeq  uint64
	lastHash string
	lastID   string
	lastIdx  int
	seen     map[uint64]uint64 // seq/64 -> bit set
	gaps     []pendingGap
}

type pendingGap struct {
	SeqRange
	streamID string
	seq      uint64
	index    int
}

// NewVerifier returns a Verifier for chains keyed with chainKey.
func NewVerifier(chainKey []byte) (*Verifier, error) {
	if err := checkChainKey(chainKey); err != nil {
		return nil, err
	}
	return &Verifier{hasher: newChainHasher(chainKey), chains: map[string]*chainState{}}, nil
}

// Verify checks entries in stream order; see Verifier.
func Verify(entries []Entry, chainKey []byte) (Report, error) {
	return VerifySeq(slices.Values(entries), chainKey)
}

// VerifySeq checks the entries of seq in order; see Verifier.
func VerifySeq(entries iter.Seq[Entry], chainKey []byte) (Report, error) {
	v, err := NewVerifier(chainKey)
	if err != nil {
		return Report{}, err
	}
	for e := range entries {
		v.Add(e)
	}
	return v.Report(), nil
}

// SetWatermarks gives the highest seq per instance that the stream must
// contain, as read by ReadWatermarks before reading the stream. Missing
// entries up to a watermark are then reported as missing_tail.
func (v *Verifier) SetWatermarks(w map[string]uint64) {
	v.watermarks = w
}

// Add checks the next entry in stream order.
func (v *Verifier) Add(e Entry) {
	idx := v.entries
	v.entries++
	if e.Err != nil {
		seq, _ := parseCanonicalUint(e.Fields["seq"])
		v.problem(Problem{Kind: ProblemMalformed, StreamID: e.ID, Instance: truncate(e.Fields["instance"]), Seq: seq,
			Message: "entry does not decode: " + e.Err.Error(), index: idx})
		return
	}

	ev := &e.Event
	st := v.chain(ev.Instance)
	st.report.Entries++
	vals := ev.values()
	hashOK := v.hasher.equal(&vals, ev.Hash)
	if !hashOK {
		v.problem(Problem{Kind: ProblemHash, StreamID: e.ID, Instance: ev.Instance, Seq: ev.Seq, index: idx,
			Message: "hash does not match the entry's fields: the entry was changed, or the chain key is wrong"})
	}
	v.link(st, e, idx, hashOK)
	if hashOK && ev.Module == ModuleAudit {
		st.note(ev)
	}
}

// link checks e's place in its instance chain and moves the chain to it.
func (v *Verifier) link(st *chainState, e Entry, idx int, hashOK bool) {
	ev := &e.Event
	at := Problem{StreamID: e.ID, Instance: ev.Instance, Seq: ev.Seq, index: idx}

	if st.report.Entries == 1 {
		st.report.FirstSeq = ev.Seq
		st.report.FromGenesis = ev.Seq == 1
	}
	switch {
	case st.wasSeen(ev.Seq):
		at.Kind, at.Message = ProblemDuplicate, fmt.Sprintf("seq %d appears more than once", ev.Seq)
		v.problem(at)
		return
	case st.report.Entries > 1 && ev.Seq < st.lastSeq:
		st.markSeen(ev.Seq)
		at.Kind, at.Message = ProblemOrder, fmt.Sprintf("seq %d comes after seq %d (entry '%s'): entries were reordered", ev.Seq, st.lastSeq, st.lastID)
		v.problem(at)
		return
	case ev.Seq == 1 && ev.PrevHash != "":
		at.Kind, at.Message = ProblemGenesis, "seq 1 must have an empty prev_hash"
		v.problem(at)
	case st.report.Entries == 1:
		// The first entry seen anchors the chain; older ones may be trimmed.
	case ev.Seq == st.lastSeq+1:
		if ev.PrevHash != st.lastHash && hashOK {
			at.Kind = ProblemChain
			at.Message = fmt.Sprintf("prev_hash is not the hash of seq %d (entry '%s'): an entry was changed, replaced or inserted", st.lastSeq, st.lastID)
			v.problem(at)
		}
	default:
		st.gaps = append(st.gaps, pendingGap{SeqRange: SeqRange{From: st.lastSeq + 1, To: ev.Seq - 1},
			streamID: e.ID, seq: ev.Seq, index: idx})
	}

	st.markSeen(ev.Seq)
	st.lastSeq, st.lastHash, st.lastID, st.lastIdx = ev.Seq, ev.Hash, e.ID, idx
	st.report.LastSeq = ev.Seq
}

// note records what an audit event declares. Only events whose hash
// verified are passed here, so a forged declaration cannot hide a gap.
func (st *chainState) note(ev *Event) {
	switch ev.Reason {
	case ReasonEventsDropped:
		if n, ok := detailNumber(ev.Detail, "dropped="); ok {
			st.report.Dropped += n
		}
	case ReasonEventsLost:
		if r, ok := parseSeqRange(ev.Detail); ok {
			st.report.Lost = append(st.report.Lost, r)
		}
	case ReasonUncleanRestart:
		st.report.Unclean++
	case ReasonSpoolReset:
		st.report.SpoolResets++
	}
}

// Report finishes the checks that need the whole input (declared gaps and
// watermarks) and returns the result. Add may be called again afterwards,
// but gaps are then checked again on the next Report.
func (v *Verifier) Report() Report {
	problems := slices.Clone(v.problems)
	count := v.count
	add := func(p Problem) {
		count++
		problems = append(problems, p)
	}

	names := make([]string, 0, len(v.chains))
	for name := range v.chains {
		names = append(names, name)
	}
	for name := range v.watermarks {
		if _, ok := v.chains[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)

	r := Report{Entries: v.entries}
	for _, name := range names {
		st, ok := v.chains[name]
		if !ok {
			// Every entry of the instance is gone: trimmed by MAXLEN or removed.
			r.Instances = append(r.Instances, InstanceReport{Instance: name, Watermark: v.watermarks[name]})
			continue
		}
		for _, g := range st.gaps {
			if missing, ok := st.undeclared(g.SeqRange); ok {
				add(Problem{Kind: ProblemGap, StreamID: g.streamID, Instance: name, Seq: g.seq, index: g.index,
					Message: fmt.Sprintf("seq %d is missing before seq %d and no events_lost event declares it", missing, g.seq)})
			}
		}
		rep := st.report
		if wm, ok := v.watermarks[name]; ok {
			rep.Watermark = wm
			if wm > st.lastSeq {
				if missing, ok := st.undeclared(SeqRange{From: st.lastSeq + 1, To: wm}); ok {
					add(Problem{Kind: ProblemMissingEnd, StreamID: st.lastID, Instance: name, Seq: st.lastSeq, index: st.lastIdx,
						Message: fmt.Sprintf("seq %d is missing after this last entry, but redis's watermark is %d", missing, wm)})
				}
			}
		}
		r.Instances = append(r.Instances, rep)
	}

	slices.SortStableFunc(problems, func(a, b Problem) int { return a.index - b.index })
	if len(problems) > MaxProblems {
		problems = problems[:MaxProblems]
	}
	r.Problems, r.ProblemCount = problems, count
	return r
}

// undeclared returns the first seq of r that was neither seen nor declared
// lost.
func (st *chainState) undeclared(r SeqRange) (uint64, bool) {
	for seq := r.From; seq <= r.To && seq != 0; seq++ {
		if st.wasSeen(seq) {
			continue
		}
		declared := false
		for _, l := range st.report.Lost {
			if l.contains(seq) {
				declared = true
				// Skip the rest of this declared range at once.
				seq = min(l.To, r.To)
				break
			}
		}
		if !declared {
			return seq, true
		}
	}
	return 0, false
}

func (v *Verifier) chain(instance string) *chainState {
	st, ok := v.chains[instance]
	if !ok {
		st = &chainState{report: InstanceReport{Instance: instance}, seen: map[uint64]uint64{}}
		v.chains[instance] = st
	}
	return st
}

func (v *Verifier) problem(p Problem) {
	v.count++
	if len(v.problems) < MaxProblems {
		v.problems = append(v.problems, p)
	}
}

func (st *chainState) markSeen(seq uint64) { st.seen[seq/64] |= 1 << (seq % 64) }

func (st *chainState) wasSeen(seq uint64) bool { return st.seen[seq/64]&(1<<(seq%64)) != 0 }

// formatSeqRange returns the detail of an events_lost event.
func formatSeqRange(from, to uint64) string {
	return fmt.Sprintf("lost=%d-%d", from, to)
}

// parseSeqRange reads the "lost=A-B" detail of an events_lost event.
func parseSeqRange(detail string) (SeqRange, bool) {
	rest, ok := strings.CutPrefix(detail, "lost=")
	if !ok {
		return SeqRange{}, false
	}
	a, b, ok := strings.Cut(rest, "-")
	if !ok {
		return SeqRange{}, false
	}
	from, err1 := parseCanonicalUint(a)
	to, err2 := parseCanonicalUint(b)
	if err1 != nil || err2 != nil || from == 0 || from > to {
		return SeqRange{}, false
	}
	return SeqRange{From: from, To: to}, true
}

// detailNumber reads the number after key in a space-separated detail.
func detailNumber(detail, key string) (uint64, bool) {
	for _, part := range strings.Fields(detail) {
		if s, ok := strings.CutPrefix(part, key); ok {
			n, err := parseCanonicalUint(s)
			return n, err == nil
		}
	}
	return 0, false
}
