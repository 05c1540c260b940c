package review

import (
	"fmt"
	"strings"
)

// AuditInput is the audit stream as the review read it.
type AuditInput struct {
	// Configured reports that the awra app has an audit block.
	Configured bool `json:"configured"`

	// Redis is the server, without credentials (see RedactURL).
	Redis  string `json:"redis"`
	Stream string `json:"stream"`

	// ChainKeySource names the origin of the chain key, empty when none
	// was found.
	ChainKeySource string `json:"chain_key_source"`

	// Result is nil when the stream could not be read, and Err is the
	// cause.
	Result *AuditResult `json:"-"`
	Err    error        `json:"-"`
}

// problemCodes maps audit verification problems to finding codes.
var problemCodes = map[string]string{
	"malformed":     "audit_entry_malformed",
	"hash_mismatch": "audit_entry_altered",
	"chain_broken":  "audit_chain_broken",
	"bad_genesis":   "audit_chain_broken",
	"duplicate":     "audit_chain_broken",
	"out_of_order":  "audit_chain_broken",
	"gap":           "audit_gap_undeclared",
	"missing_tail":  "audit_tail_missing",
}

// checkAuditPackage judges the audit trail of the period. The chains must
// verify with the chain key, and every gap must be declared by an
// events_lost event. No entry may be deleted or trimmed inside the
// period, every instance seen must be complete up to its watermark, and
// the export read back must match what was read from the stream.
// Declared losses are listed as warnings.
func checkAuditPackage(in AuditInput) Gate {
	var fs findingList
	switch {
	case !in.Configured:
		fs.add(SeverityFail, "audit_not_configured", "", "the awra app has no audit block, so decisions are not recorded: configure audit with a stream, spool_dir and chain_key")
		return newGate(GateAuditPackage, fs)
	case in.ChainKeySource == "":
		fs.add(SeverityFail, "audit_chain_key_missing", in.Stream, "no chain key: export AWRA_AUDIT_CHAIN_KEY as the gateway has it, so the chains can be verified")
		return newGate(GateAuditPackage, fs)
	case in.Result == nil:
		fs.add(SeverityFail, "audit_stream_unreadable", in.Stream, fmt.Sprintf("the audit stream could not be read: %v", in.Err))
		return newGate(GateAuditPackage, fs)
	}
	res := in.Result

	addProblems(&fs, res.Verification, "")
	if res.Verification.ProblemCount == 0 {
		addProblems(&fs, res.ExportVerification, "export: ")
	}
	checkExport(&fs, res)
	checkRemovals(&fs, res)
	checkInstances(&fs, res)
	checkDeclaredLosses(&fs, res.Verification)

	if res.EntriesInPeriod == 0 {
		fs.add(SeverityWarn, "audit_period_empty", in.Stream, "the stream has no entry in the period; confirm that the gateway served no awra route")
	}
	fs.add(SeverityInfo, "audit_summary", in.Stream,
		fmt.Sprintf("entries in the period: %d, from gateway instances: %d, alerts: %d; verified with the chain key from %s", res.EntriesInPeriod, countInPeriod(res), res.Alerts, in.ChainKeySource))
	return newGate(GateAuditPackage, fs)
}

func addProblems(fs *findingList, v VerificationSummary, prefix string) {
	for _, p := range v.Problems {
		code := problemCodes[p.Kind]
		if code == "" {
			code = "audit_chain_broken"
		}
		fs.add(SeverityFail, code, p.Instance, prefix+p.Message)
	}
	if extra := v.ProblemCount - len(v.Problems); extra > 0 {
		fs.add(SeverityFail, "audit_problems_more", "", fmt.Sprintf("%s%d more verification problems are not listed", prefix, extra))
	}
}

func checkExport(fs *findingList, res *AuditResult) {
	e := res.Export
	switch {
	case e.ReadError != "":
		fs.add(SeverityFail, "audit_export_mismatch", e.File, "the export could not be read back: "+e.ReadError)
	case e.ReadBack != e.Lines:
		fs.add(SeverityFail, "audit_export_mismatch", e.File,
			fmt.Sprintf("the export holds %d entries but %d were read from the stream for the period", e.ReadBack, e.Lines))
	case e.ReadBackSHA256 != e.SHA256:
		fs.add(SeverityFail, "audit_export_mismatch", e.File, "the export read back differs from the bytes written")
	case res.EntriesAfter == 0 && !sameInstanceCounts(res.Verification, res.ExportVerification):
		fs.add(SeverityFail, "audit_export_mismatch", e.File, "the export holds other entries per instance than the stream from the period start")
	}
}

// sameInstanceCounts reports whether two verifications saw the same
// number of entries of each instance.
func sameInstanceCounts(a, b VerificationSummary) bool {
	if len(a.Instances) != len(b.Instances) {
		return false
	}
	for i := range a.Instances {
		if a.Instances[i].Instance != b.Instances[i].Instance || a.Instances[i].Entries != b.Instances[i].Entries {
			return false
		}
	}
	return true
}

// checkRemovals uses XINFO STREAM: XDEL records the highest deleted id,
// and entries_added above length shows entries removed by trimming or
// XDEL.
func checkRemovals(fs *findingList, res *AuditResult) {
	info := res.Info
	if info == nil || info.Missing {
		return
	}
	if info.MaxDeletedID == "" {
		fs.add(SeverityWarn, "audit_deletions_unknown", res.Stream, "Redis did not report max-deleted-entry-id (Redis before 7.0), so deletions are found only through chain gaps")
		return
	}
	deleted, _ := parseStreamID(info.MaxDeletedID)
	first, _ := parseStreamID(info.FirstID)
	start, _ := parseStreamID(res.PeriodStartID)
	deletedInside := deleted != (streamID{}) && !deleted.less(first)

	switch {
	case deletedInside && !deleted.less(start):
		fs.add(SeverityFail, "audit_entry_deleted", res.Stream,
			fmt.Sprintf("an entry was deleted from inside the stream during the period (XDEL); the highest deleted id is %s", info.MaxDeletedID))
	case deletedInside:
		fs.add(SeverityWarn, "audit_entry_deleted_before_period", res.Stream,
			fmt.Sprintf("an entry was deleted from inside the stream before the period (XDEL); the highest deleted id is %s", info.MaxDeletedID))
	case info.EntriesAdded > info.Length && start.less(first):
		fs.add(SeverityFail, "audit_period_trimmed", res.Stream,
			fmt.Sprintf("%d entries were trimmed and the oldest entry left (%s) is newer than the period start (%s), so the start of the period may be missing: raise the audit max_len or review a shorter period",
				info.EntriesAdded-info.Length, info.FirstID, res.PeriodStartID))
	}
}

// checkInstances finds missing entries that leave no chain gap. One case
// is an instance whose entries end below its watermark before the period.
// The other is entries written to the stream by something other than an
// audit publisher, which records no watermark.
func checkInstances(fs *findingList, res *AuditResult) {
	trimmed := res.Info != nil && res.Info.EntriesAdded > res.Info.Length
	for _, in := range res.Instances {
		switch {
		case in.EntriesFromStart > 0 && !in.HasWatermark:
			fs.add(SeverityFail, "audit_instance_unregistered", in.Instance,
				fmt.Sprintf("instance '%s' has %d entries in the stream but no watermark, so they were not written by an audit pipeline", in.Instance, in.EntriesFromStart))
		case in.EntriesFromStart > 0:
			// Verified against the watermark by the chain check.
		case in.LastSeq == in.Watermark:
			// Complete, and silent during the period.
		case in.LastSeq == 0 && trimmed:
			fs.add(SeverityInfo, "audit_instance_trimmed", in.Instance,
				fmt.Sprintf("instance '%s' has no entry left in the stream (watermark %d); its entries were trimmed before the period", in.Instance, in.Watermark))
		case in.LastSeq == 0:
			fs.add(SeverityFail, "audit_instance_missing", in.Instance,
				fmt.Sprintf("instance '%s' published up to seq %d but has no entry in the stream, and nothing was trimmed", in.Instance, in.Watermark))
		default:
			fs.add(SeverityFail, "audit_instance_incomplete", in.Instance,
				fmt.Sprintf("instance '%s' published up to seq %d but its last entry in the stream is seq %d", in.Instance, in.Watermark, in.LastSeq))
		}
	}
}

func checkDeclaredLosses(fs *findingList, v VerificationSummary) {
	for _, in := range v.Instances {
		if in.Dropped > 0 {
			fs.add(SeverityWarn, "audit_events_dropped", in.Instance,
				fmt.Sprintf("instance '%s' declared %d events dropped before they were sequenced (queue full or spool error)", in.Instance, in.Dropped))
		}
		if len(in.Lost) > 0 {
			fs.add(SeverityWarn, "audit_events_lost", in.Instance,
				fmt.Sprintf("instance '%s' declared seqs %s lost from the stream", in.Instance, strings.Join(in.Lost, ", ")))
		}
		if in.Unclean > 0 {
			fs.add(SeverityWarn, "audit_unclean_restart", in.Instance,
				fmt.Sprintf("instance '%s' restarted %d times without closing its spool; events queued in memory then are lost and uncounted", in.Instance, in.Unclean))
		}
		if in.SpoolResets > 0 {
			fs.add(SeverityWarn, "audit_spool_reset", in.Instance,
				fmt.Sprintf("instance '%s' started after an unreadable spool was moved aside; its unpublished events are not in the stream", in.Instance))
		}
	}
}

func countInPeriod(res *AuditResult) int {
	n := 0
	for _, in := range res.Instances {
		if in.EntriesInPeriod > 0 {
			n++
		}
	}
	return n
}
