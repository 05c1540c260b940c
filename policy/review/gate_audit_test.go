package review

import (
	"errors"
	"slices"
	"testing"
)

// cleanResult is an audit result that passes: one instance, 10 entries
// in the period, complete up to its watermark, nothing removed.
func cleanResult() *AuditResult {
	return &AuditResult{
		Stream: "s", PeriodStartID: "1000-0", PeriodEndID: "9000-18446744073709551615",
		Info:               &StreamInfo{Length: 10, EntriesAdded: 10, FirstID: "2000-0", LastID: "3000-0", MaxDeletedID: "0-0"},
		Watermarks:         map[string]uint64{"gw": 10},
		EntriesInPeriod:    10,
		Export:             ExportInfo{File: AuditExportFile, Lines: 10, SHA256: "aa", ReadBack: 10, ReadBackSHA256: "aa"},
		Verification:       VerificationSummary{Entries: 10, Instances: []InstanceVerdict{{Instance: "gw", Entries: 10, FirstSeq: 1, LastSeq: 10}}},
		ExportVerification: VerificationSummary{Entries: 10, Instances: []InstanceVerdict{{Instance: "gw", Entries: 10, FirstSeq: 1, LastSeq: 10}}},
		Instances:          []InstanceSummary{{Instance: "gw", Watermark: 10, HasWatermark: true, EntriesInPeriod: 10, EntriesFromStart: 10, LastSeq: 10}},
	}
}

func TestCheckAuditPackage(t *testing.T) {
	edit := func(f func(r *AuditResult)) *AuditResult {
		r := cleanResult()
		f(r)
		return r
	}
	problem := func(kind string) func(r *AuditResult) {
		return func(r *AuditResult) {
			r.Verification.ProblemCount = 1
			r.Verification.Problems = []ProblemInfo{{Kind: kind, Instance: "gw", Message: "entry '1-0': " + kind}}
		}
	}

	tests := []struct {
		name     string
		in       AuditInput
		wantFail []string
		wantWarn []string
	}{
		{"clean", AuditInput{Configured: true, ChainKeySource: "env", Result: cleanResult()}, nil, nil},
		{"not configured", AuditInput{}, []string{"audit_not_configured"}, nil},
		{"no chain key", AuditInput{Configured: true}, []string{"audit_chain_key_missing"}, nil},
		{"stream unreadable", AuditInput{Configured: true, ChainKeySource: "env", Err: errors.New("connection refused")}, []string{"audit_stream_unreadable"}, nil},
		{"hash mismatch", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(problem("hash_mismatch"))}, []string{"audit_entry_altered"}, nil},
		{"chain broken", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(problem("chain_broken"))}, []string{"audit_chain_broken"}, nil},
		{"reordered", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(problem("out_of_order"))}, []string{"audit_chain_broken"}, nil},
		{"malformed", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(problem("malformed"))}, []string{"audit_entry_malformed"}, nil},
		{"undeclared gap", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(problem("gap"))}, []string{"audit_gap_undeclared"}, nil},
		{"tail missing", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(problem("missing_tail"))}, []string{"audit_tail_missing"}, nil},
		{"more problems than listed", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) {
			problem("gap")(r)
			r.Verification.ProblemCount = 150
		})}, []string{"audit_gap_undeclared", "audit_problems_more"}, nil},
		{"export differs", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) { r.Export.ReadBackSHA256 = "bb" })}, []string{"audit_export_mismatch"}, nil},
		{"export short", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) { r.Export.ReadBack = 9 })}, []string{"audit_export_mismatch"}, nil},
		{"export instance counts differ", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) {
			r.ExportVerification.Instances[0].Entries = 9
		})}, []string{"audit_export_mismatch"}, nil},
		{"export fails verification", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) {
			r.ExportVerification.ProblemCount = 1
			r.ExportVerification.Problems = []ProblemInfo{{Kind: "hash_mismatch", Message: "x"}}
		})}, []string{"audit_entry_altered"}, nil},
		{"XDEL in the period", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) {
			r.Info.MaxDeletedID, r.Info.Length = "2500-0", 9
		})}, []string{"audit_entry_deleted"}, nil},
		{"XDEL before the period", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) {
			r.Info.FirstID, r.Info.MaxDeletedID, r.PeriodStartID = "500-0", "700-0", "1000-0"
		})}, nil, []string{"audit_entry_deleted_before_period"}},
		{"trimmed inside the period", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) { r.Info.EntriesAdded = 50 })}, []string{"audit_period_trimmed"}, nil},
		{"trimmed before the period", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) {
			r.Info.EntriesAdded, r.Info.FirstID = 50, "900-0"
		})}, nil, nil},
		{"redis without deletion info", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) { r.Info.MaxDeletedID = "" })}, nil, []string{"audit_deletions_unknown"}},
		{"instance without watermark", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) { r.Instances[0].HasWatermark = false })}, []string{"audit_instance_unregistered"}, nil},
		{"instance gone", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) {
			r.Instances = append(r.Instances, InstanceSummary{Instance: "gw-2", Watermark: 40, HasWatermark: true})
		})}, []string{"audit_instance_missing"}, nil},
		{"instance gone after trimming", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) {
			r.Info.EntriesAdded, r.Info.FirstID = 50, "900-0"
			r.Instances = append(r.Instances, InstanceSummary{Instance: "gw-2", Watermark: 40, HasWatermark: true})
		})}, nil, nil},
		{"instance ends below its watermark", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) {
			r.Instances = append(r.Instances, InstanceSummary{Instance: "gw-2", Watermark: 40, HasWatermark: true, EntriesBeforePeriod: 30, LastSeqBeforePeriod: 30, LastSeq: 30})
		})}, []string{"audit_instance_incomplete"}, nil},
		{"instance silent in the period", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) {
			r.Instances = append(r.Instances, InstanceSummary{Instance: "gw-2", Watermark: 40, HasWatermark: true, EntriesBeforePeriod: 40, LastSeqBeforePeriod: 40, LastSeq: 40})
		})}, nil, nil},
		{"declared losses", AuditInput{Configured: true, ChainKeySource: "env", Result: edit(func(r *AuditResult) {
			r.Verification.Instances[0].Dropped = 3
			r.Verification.Instances[0].Lost = []string{"4-5"}
			r.Verification.Instances[0].Unclean = 1
			r.Verification.Instances[0].SpoolResets = 1
		})}, nil, []string{"audit_events_dropped", "audit_events_lost", "audit_spool_reset", "audit_unclean_restart"}},
		{"empty period", AuditInput{Configured: true, ChainKeySource: "env", Result: &AuditResult{Info: &StreamInfo{Missing: true}}}, nil, []string{"audit_period_empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := checkAuditPackage(tt.in)
			if got := codes(g, SeverityFail); !slices.Equal(got, tt.wantFail) {
				t.Errorf("fail codes = %v, want %v", got, tt.wantFail)
			}
			if got := codes(g, SeverityWarn); !slices.Equal(got, tt.wantWarn) {
				t.Errorf("warn codes = %v, want %v", got, tt.wantWarn)
			}
		})
	}
}
