package review

import (
	"cmp"
	"slices"
)

// Severity ranks a finding. Only SeverityFail makes a gate fail.
type Severity string

// Severities, from the most to the least serious.
const (
	SeverityFail Severity = "fail" // the gate fails
	SeverityWarn Severity = "warn" // needs attention; the gate still passes
	SeverityInfo Severity = "info" // recorded for the auditor
)

func severityRank(s Severity) int {
	switch s {
	case SeverityFail:
		return 0
	case SeverityWarn:
		return 1
	}
	return 2
}

// Finding is one observation behind a gate's result. Code is a stable
// machine-readable name such as "key_expired_active". Subject names the
// key id, route or instance concerned. Message explains the finding in a
// sentence and names the fix. No field contains a secret.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Subject  string   `json:"subject,omitempty"`
	Message  string   `json:"message"`
}

// GateID names a gate in report.json.
type GateID string

// The five gates, in report order.
const (
	GateKeyScopes    GateID = "key_scopes_audited"
	GateURLExpiry    GateID = "url_signatures_expire"
	GateIPLimits     GateID = "ip_limits_active"
	GateAuditPackage GateID = "audit_package_complete"
	GateLogsArchived GateID = "security_logs_archived"
)

// gateTitles are the headings of the gates in report.md.
var gateTitles = map[GateID]string{
	GateKeyScopes:    "Key scopes audited",
	GateURLExpiry:    "URL signatures expire",
	GateIPLimits:     "IP limits active",
	GateAuditPackage: "Audit package complete",
	GateLogsArchived: "Security logs archived",
}

// GateStatus is the outcome of a gate.
type GateStatus string

// Gate outcomes.
const (
	StatusPass GateStatus = "PASS"
	StatusFail GateStatus = "FAIL"
)

// Gate is one gate's result with the findings behind it, sorted by
// severity, code and subject.
type Gate struct {
	ID       GateID     `json:"id"`
	Title    string     `json:"title"`
	Status   GateStatus `json:"status"`
	Findings []Finding  `json:"findings"`
}

// newGate sorts the findings and sets the status: FAIL when any finding
// has SeverityFail.
func newGate(id GateID, findings []Finding) Gate {
	if findings == nil {
		findings = []Finding{}
	}
	sortFindings(findings)
	status := StatusPass
	for _, f := range findings {
		if f.Severity == SeverityFail {
			status = StatusFail
			break
		}
	}
	return Gate{ID: id, Title: gateTitles[id], Status: status, Findings: findings}
}

func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)),
			cmp.Compare(a.Code, b.Code),
			cmp.Compare(a.Subject, b.Subject),
			cmp.Compare(a.Message, b.Message),
		)
	})
}

// findingList collects findings for one gate.
type findingList []Finding

func (l *findingList) add(sev Severity, code, subject, message string) {
	*l = append(*l, Finding{Code: code, Severity: sev, Subject: subject, Message: message})
}
