package review

import (
	"slices"
	"strconv"
	"strings"

	"github.com/awra/awragate/policy/audit"
)

// AuditResult is the account of the audit stream that CollectAudit
// returns. It is written to the evidence as audit-verification.json.
type AuditResult struct {
	Stream        string `json:"stream"`
	PeriodStartID string `json:"period_start_id"`
	PeriodEndID   string `json:"period_end_id"`

	Info       *StreamInfo       `json:"stream_info"`
	Watermarks map[string]uint64 `json:"watermarks"`

	EntriesBefore   int `json:"entries_before_period"`
	EntriesInPeriod int `json:"entries_in_period"`
	EntriesAfter    int `json:"entries_after_period"`
	Alerts          int `json:"alerts_in_period"`

	Export ExportInfo `json:"export"`

	// Verification covers every entry from the period start to the end
	// of the stream, with the watermarks of the instances found there.
	Verification VerificationSummary `json:"stream_verification"`

	// ExportVerification covers the export file as read back.
	ExportVerification VerificationSummary `json:"export_verification"`

	Instances []InstanceSummary `json:"instances"`
}

// StreamInfo is the part of XINFO STREAM that shows removed entries.
// Redis 7.0 and later report EntriesAdded and MaxDeletedID; XDEL sets
// MaxDeletedID, trimming does not.
type StreamInfo struct {
	Missing         bool   `json:"missing,omitempty"` // the stream does not exist
	Length          int64  `json:"length"`
	EntriesAdded    int64  `json:"entries_added"`
	FirstID         string `json:"first_id,omitempty"`
	LastID          string `json:"last_id,omitempty"`
	LastGeneratedID string `json:"last_generated_id,omitempty"`
	MaxDeletedID    string `json:"max_deleted_id,omitempty"`
}

// ExportInfo describes the written audit export.
type ExportInfo struct {
	File           string `json:"file"`
	Lines          int    `json:"lines"`
	SHA256         string `json:"sha256"`
	ReadBack       int    `json:"read_back_lines"`
	ReadBackSHA256 string `json:"read_back_sha256"`
	ReadError      string `json:"read_error,omitempty"`
}

// VerificationSummary is an audit.Report in JSON form.
type VerificationSummary struct {
	Entries      int               `json:"entries"`
	ProblemCount int               `json:"problem_count"`
	Problems     []ProblemInfo     `json:"problems"`
	Instances    []InstanceVerdict `json:"instances"`
}

// ProblemInfo is one audit.Problem.
type ProblemInfo struct {
	Kind     string `json:"kind"`
	StreamID string `json:"stream_id"`
	Instance string `json:"instance"`
	Seq      uint64 `json:"seq"`
	Message  string `json:"message"`
}

// InstanceVerdict is one audit.InstanceReport.
type InstanceVerdict struct {
	Instance    string   `json:"instance"`
	Entries     int      `json:"entries"`
	FirstSeq    uint64   `json:"first_seq"`
	LastSeq     uint64   `json:"last_seq"`
	FromGenesis bool     `json:"from_genesis"`
	Watermark   uint64   `json:"watermark"`
	Dropped     uint64   `json:"dropped"`
	Lost        []string `json:"lost"`
	Unclean     int      `json:"unclean_restarts"`
	SpoolResets int      `json:"spool_resets"`
}

func summarizeVerification(r audit.Report) VerificationSummary {
	s := VerificationSummary{Entries: r.Entries, ProblemCount: r.ProblemCount, Problems: []ProblemInfo{}, Instances: []InstanceVerdict{}}
	for _, p := range r.Problems {
		s.Problems = append(s.Problems, ProblemInfo{Kind: string(p.Kind), StreamID: p.StreamID, Instance: p.Instance, Seq: p.Seq, Message: p.Error()})
	}
	for _, in := range r.Instances {
		v := InstanceVerdict{
			Instance: in.Instance, Entries: in.Entries, FirstSeq: in.FirstSeq, LastSeq: in.LastSeq,
			FromGenesis: in.FromGenesis, Watermark: in.Watermark, Dropped: in.Dropped,
			Lost: []string{}, Unclean: in.Unclean, SpoolResets: in.SpoolResets,
		}
		for _, l := range in.Lost {
			v.Lost = append(v.Lost, formatSeqRange(l))
		}
		s.Instances = append(s.Instances, v)
	}
	return s
}

func formatSeqRange(r audit.SeqRange) string {
	if r.From == r.To {
		return strconv.FormatUint(r.From, 10)
	}
	return strconv.FormatUint(r.From, 10) + "-" + strconv.FormatUint(r.To, 10)
}

// InstanceSummary relates one gateway instance's entries to its
// watermark, the highest seq its publisher added.
type InstanceSummary struct {
	Instance            string `json:"instance"`
	Watermark           uint64 `json:"watermark"`
	HasWatermark        bool   `json:"has_watermark"`
	EntriesBeforePeriod int    `json:"entries_before_period"`
	LastSeqBeforePeriod uint64 `json:"last_seq_before_period"`
	EntriesInPeriod     int    `json:"entries_in_period"`
	EntriesFromStart    int    `json:"entries_from_period_start"`
	LastSeq             uint64 `json:"last_seq"`
}

// instanceTally counts entries per instance while the stream is read.
type instanceTally struct {
	m map[string]*InstanceSummary
}

func newInstanceTally() *instanceTally {
	return &instanceTally{m: map[string]*InstanceSummary{}}
}

func (t *instanceTally) get(instance string) *InstanceSummary {
	s, ok := t.m[instance]
	if !ok {
		s = &InstanceSummary{Instance: instance}
		t.m[instance] = s
	}
	return s
}

func (t *instanceTally) before(instance string, seq uint64) {
	s := t.get(instance)
	s.EntriesBeforePeriod++
	s.LastSeqBeforePeriod = max(s.LastSeqBeforePeriod, seq)
	s.LastSeq = max(s.LastSeq, seq)
}

func (t *instanceTally) fromStart(instance string, seq uint64) {
	s := t.get(instance)
	s.EntriesFromStart++
	s.LastSeq = max(s.LastSeq, seq)
}

func (t *instanceTally) inPeriod(instance string, _ uint64) {
	t.get(instance).EntriesInPeriod++
}

// watermarksFromStart returns the watermarks of the instances that have
// entries from the period start on; the others are judged by
// checkInstances.
func (t *instanceTally) watermarksFromStart(all map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for name, s := range t.m {
		if w, ok := all[name]; ok && s.EntriesFromStart > 0 {
			out[name] = w
		}
	}
	return out
}

// summaries returns every instance seen in the stream or in the
// watermarks, sorted by name.
func (t *instanceTally) summaries(marks map[string]uint64) []InstanceSummary {
	for name := range marks {
		t.get(name)
	}
	out := make([]InstanceSummary, 0, len(t.m))
	for name, s := range t.m {
		s.Watermark, s.HasWatermark = marks[name]
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b InstanceSummary) int { return strings.Compare(a.Instance, b.Instance) })
	return out
}
