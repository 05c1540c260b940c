package review

import (
	"fmt"
	"strings"
	"time"
)

// ReportSchemaVersion is the schema_version of report.json. It changes
// when a field is removed or changes meaning; new fields keep it.
const ReportSchemaVersion = 1

// Input is everything a review judges.
type Input struct {
	Tool    string // tool name, "awragate review"
	Version string // tool version

	// GeneratedAt is the wall-clock time of the run, the only value that
	// differs between two reports of the same inputs.
	GeneratedAt time.Time

	// AsOf is the review time: expiries and ages are judged at it, and it
	// ends the period.
	AsOf  time.Time
	Since time.Duration // the period's length before AsOf

	Config     ConfigSource
	Deployment *Deployment
	Keys       KeysInput
	Audit      AuditInput
	Usage      *Usage // the period's events; nil when the stream was not read
	Policy     Policy

	// Sealed reports that a signing key is at hand, so the evidence will
	// be sealed after the report is written.
	Sealed bool
}

// ConfigSource identifies the configuration that was reviewed.
type ConfigSource struct {
	Path    string `json:"path"`
	Adapter string `json:"adapter"`
	SHA256  string `json:"sha256"` // of the file's bytes as read
}

// Report is the review's result, written as report.json and rendered as
// report.md.
type Report struct {
	SchemaVersion  int            `json:"schema_version"`
	Tool           ToolInfo       `json:"tool"`
	GeneratedAt    time.Time      `json:"generated_at"`
	AsOf           time.Time      `json:"as_of"`
	Period         PeriodInfo     `json:"period"`
	Result         GateStatus     `json:"result"`
	Config         ConfigSource   `json:"config"`
	KeysFile       KeysFileInfo   `json:"keys_file"`
	Audit          AuditInput     `json:"audit"`
	Policy         Policy         `json:"policy"`
	Gates          []Gate         `json:"gates"`
	LeastPrivilege LeastPrivilege `json:"least_privilege"`
	Health         Health         `json:"health"`
	Evidence       []string       `json:"evidence"`
	Method         []string       `json:"method"`
}

// ToolInfo names the program that wrote the report.
type ToolInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// PeriodInfo is the reviewed period: entries of the audit stream whose
// ids fall from Start to End.
type PeriodInfo struct {
	Since string    `json:"since"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// KeysFileInfo identifies the key registry that was reviewed.
type KeysFileInfo struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Keys   int    `json:"keys"`
}

// Build judges in and returns the report. It reads the clock from in
// only, and sorts every list, so the same input gives the same report.
func Build(in Input) *Report {
	r := &Report{
		SchemaVersion: ReportSchemaVersion,
		Tool:          ToolInfo{Name: in.Tool, Version: in.Version},
		GeneratedAt:   in.GeneratedAt.UTC(),
		AsOf:          in.AsOf.UTC(),
		Period:        PeriodInfo{Since: FormatDuration(in.Since), Start: in.AsOf.Add(-in.Since).UTC(), End: in.AsOf.UTC()},
		Config:        in.Config,
		KeysFile:      KeysFileInfo{Path: in.Keys.Path, SHA256: in.Keys.SHA256},
		Audit:         in.Audit,
		Policy:        in.Policy,
		Evidence:      EvidenceFiles(),
	}
	if in.Keys.File != nil {
		r.KeysFile.Keys = len(in.Keys.File.Keys)
	}

	d := in.Deployment
	r.Gates = []Gate{
		checkKeyScopes(in.Keys, in.Policy, in.AsOf),
		checkURLExpiry(d, in.Policy, in.AsOf),
		checkIPLimits(d, in.Keys, in.Policy),
		checkAuditPackage(in.Audit),
		checkArchive(in),
	}
	r.Result = StatusPass
	for _, g := range r.Gates {
		if g.Status == StatusFail {
			r.Result = StatusFail
		}
	}

	usage := in.Usage
	if usage == nil {
		// Without the stream there is no observed use, which the report
		// states instead of calling every key unused.
		usage = NewUsage(d)
		r.LeastPrivilege = LeastPrivilege{Keys: []KeyPrivilege{}, Plan: []KeyNarrowing{}, Findings: []Finding{{
			Code: "lp_use_unknown", Severity: SeverityInfo,
			Message: "the audit stream was not read, so the keys' use in the period is unknown and nothing is planned",
		}}}
	} else {
		r.LeastPrivilege = AnalyzeLeastPrivilege(in.Keys.File, usage)
	}
	r.Health = buildHealth(d, usage)
	r.Method = methodNotes(in, usage)
	return r
}

// checkArchive judges whether the evidence package will be complete and
// sealed: it needs the audit export and a signing key.
func checkArchive(in Input) Gate {
	var fs findingList
	if !in.Sealed {
		fs.add(SeverityFail, "evidence_unsealed", "",
			"no signing key was given, so the evidence cannot be sealed: create one with 'awragate review keygen' and pass --signing-key-env NAME")
	}
	if in.Audit.Result == nil {
		fs.add(SeverityFail, "audit_export_missing", AuditExportFile,
			"the audit stream was not exported, so the security logs of the period are not archived")
	} else {
		fs.add(SeverityInfo, "evidence_written", "",
			fmt.Sprintf("%d evidence files, with %d audit entries of the period in %s", len(EvidenceFiles()), in.Audit.Result.Export.Lines, AuditExportFile))
	}
	return newGate(GateLogsArchived, fs)
}

// Failed returns the ids of the gates that failed, in report order.
func (r *Report) Failed() []GateID {
	var out []GateID
	for _, g := range r.Gates {
		if g.Status == StatusFail {
			out = append(out, g.ID)
		}
	}
	return out
}

func methodNotes(in Input, u *Usage) []string {
	notes := []string{
		"The period is the audit stream entries whose ids fall between the period start and end; stream ids carry the Redis server's clock.",
		"Signed-URL key age: the date given with --signing-key-created ID=DATE, else a date in the key id (YYYYMMDD, YYYY-MM-DD, YYYYMM, YYYY-MM or YYYY); a year or a month alone counts from its first day, so the age is never underestimated. A key whose date is unknown fails the gate.",
		"Observed use: the allowed api_key events of the period. The scopes field of an event holds the key's grants, so each event is mapped to its route by replaying Caddy's routing (groups, host, method and path matchers, subroutes) on the event's method, host and path, with strip_path_prefix rewrites put back; the scopes that route requires are the scopes exercised. Events whose route is not certain leave the key's scopes unchanged.",
		fmt.Sprintf("%d events of the period could not be mapped to exactly one route with certainty.", u.unmappedTotal()),
		"Webhook providers treated as publishing their sending addresses: " + strings.Join(in.Policy.SourceCIDRProviders, ", ") + ". Shopify states that its webhooks have no fixed address range.",
		"Webhook delay between a provider's signed timestamp and arrival: not available, because audit events do not record the provider's timestamp.",
		"Secrets are resolved from the review's environment only to measure their length; no secret, token or token hash is written to the report or the evidence.",
	}
	if in.Usage == nil {
		notes = append(notes, "The audit stream was not read, so the least-privilege and health sections contain no traffic.")
	}
	return notes
}
