package review

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/awra/awragate/policy"
)

// Layout of a review directory.
const (
	ReportJSONFile = "report.json"
	ReportMDFile   = "report.md"
	EvidenceDir    = "evidence"

	KeysEvidenceFile       = "keys.json"
	NetworksEvidenceFile   = "key-networks.json"
	APIRoutesEvidenceFile  = "api-key-routes.json"
	URLRoutesEvidenceFile  = "signed-url-routes.json"
	HookRoutesEvidenceFile = "webhook-routes.json"
	ServersEvidenceFile    = "servers.json"
	AuditEvidenceFile      = "audit-verification.json"
	UsageEvidenceFile      = "usage.json"
	PrivilegeEvidenceFile  = "least-privilege.json"
)

// EvidenceFiles returns the files of a review directory, except the
// seal, as sorted slash-separated paths.
func EvidenceFiles() []string {
	files := []string{ReportJSONFile, ReportMDFile}
	for _, name := range []string{
		KeysEvidenceFile, NetworksEvidenceFile, APIRoutesEvidenceFile, URLRoutesEvidenceFile,
		HookRoutesEvidenceFile, ServersEvidenceFile, AuditEvidenceFile, UsageEvidenceFile,
		PrivilegeEvidenceFile, AuditExportFile, AlertsFile,
	} {
		files = append(files, EvidenceDir+"/"+name)
	}
	slices.Sort(files)
	return files
}

// PrepareDir creates the review directory and its evidence directory. The
// directory must not exist or be empty, so that the seal covers only what
// this review wrote. It returns the evidence directory.
func PrepareDir(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return "", fmt.Errorf("output directory '%s' is not empty: give a new directory, so the seal covers only this review", dir)
	case err != nil && !os.IsNotExist(err):
		return "", fmt.Errorf("reading output directory '%s': %w", dir, err)
	}
	ev := filepath.Join(dir, EvidenceDir)
	if err := os.MkdirAll(ev, evidenceDirMode); err != nil {
		return "", fmt.Errorf("creating output directory: %w", err)
	}
	return ev, nil
}

// WriteEvidence writes the report and the JSON evidence files into dir,
// which PrepareDir made. CollectAudit has written the audit export and
// the alert history already. When it did not run, they are written empty
// and audit-verification.json gives the reason.
func WriteEvidence(dir string, r *Report, in Input) error {
	ev := filepath.Join(dir, EvidenceDir)
	if in.Audit.Result == nil {
		for _, name := range []string{AuditExportFile, AlertsFile} {
			if err := writeNewFile(filepath.Join(ev, name), nil); err != nil {
				return err
			}
		}
	}

	files := []struct {
		name  string
		value any
	}{
		{KeysEvidenceFile, keyInventory(in.Keys.File, in.AsOf)},
		{NetworksEvidenceFile, keyNetworks(in.Keys.File)},
		{APIRoutesEvidenceFile, in.Deployment.APIKeyRoutes},
		{URLRoutesEvidenceFile, signedURLEvidence(in.Deployment, in.Policy, in.AsOf)},
		{HookRoutesEvidenceFile, webhookEvidence(in.Deployment, in.Policy)},
		{ServersEvidenceFile, in.Deployment.Servers},
		{AuditEvidenceFile, auditEvidence(in.Audit)},
		{UsageEvidenceFile, usageEvidence(in.Usage, r.Health)},
		{PrivilegeEvidenceFile, r.LeastPrivilege},
	}
	for _, f := range files {
		if err := writeJSON(filepath.Join(ev, f.name), f.value); err != nil {
			return err
		}
	}
	if err := writeJSON(filepath.Join(dir, ReportJSONFile), r); err != nil {
		return err
	}
	return writeNewFile(filepath.Join(dir, ReportMDFile), RenderMarkdown(r))
}

func writeJSON(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encoding '%s': %w", filepath.Base(path), err)
	}
	return writeNewFile(path, buf.Bytes())
}

// KeyInventoryItem is one key without its token hashes.
type KeyInventoryItem struct {
	ID            string            `json:"id"`
	Owner         string            `json:"owner"`
	Description   string            `json:"description,omitempty"`
	Status        string            `json:"status"`
	Scopes        []string          `json:"scopes"`
	AllowedCIDRs  []string          `json:"allowed_cidrs"`
	IPException   string            `json:"ip_exception,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at,omitzero"`
	ExpiresAt     time.Time         `json:"expires_at"`
	AgeDays       int               `json:"age_days"`
	ExpiresInDays int               `json:"expires_in_days"`
	LifetimeDays  int               `json:"lifetime_days"`
	RateLimit     *policy.RateLimit `json:"rate_limit,omitempty"`
	Tokens        []TokenInfo       `json:"tokens"`
}

// TokenInfo describes one stored token of a key by its dates only.
type TokenInfo struct {
	CreatedAt time.Time  `json:"created_at"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
}

func keyInventory(f *policy.KeysFile, now time.Time) []KeyInventoryItem {
	out := []KeyInventoryItem{}
	if f == nil {
		return out
	}
	for _, k := range f.Keys {
		item := KeyInventoryItem{
			ID: k.ID, Owner: k.Owner, Description: k.Description, Status: string(k.Status),
			Scopes: sortedCopy(k.Scopes), AllowedCIDRs: slices.Clone(k.AllowedCIDRs), IPException: k.IPException,
			CreatedAt: k.CreatedAt.UTC(), UpdatedAt: k.UpdatedAt.UTC(), ExpiresAt: k.ExpiresAt.UTC(),
			AgeDays: wholeDays(now.Sub(k.CreatedAt)), ExpiresInDays: wholeDays(k.ExpiresAt.Sub(now)),
			LifetimeDays: wholeDays(k.ExpiresAt.Sub(k.CreatedAt)), RateLimit: k.RateLimit, Tokens: []TokenInfo{},
		}
		for _, s := range k.Secrets {
			item.Tokens = append(item.Tokens, TokenInfo{CreatedAt: s.CreatedAt.UTC(), NotAfter: s.NotAfter})
		}
		out = append(out, item)
	}
	slices.SortFunc(out, func(a, b KeyInventoryItem) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// KeyNetworks is one key's entry in the CIDR registry.
type KeyNetworks struct {
	KeyID       string         `json:"key_id"`
	Status      string         `json:"status"`
	Networks    []NetworkEntry `json:"networks"`
	IPException string         `json:"ip_exception,omitempty"`
}

// NetworkEntry is one allowed network.
type NetworkEntry struct {
	CIDR         string `json:"cidr"`
	Family       string `json:"family"`
	Addresses    string `json:"addresses"` // 2^(bits-prefix), as a power of two
	EveryAddress bool   `json:"every_address"`
}

func keyNetworks(f *policy.KeysFile) []KeyNetworks {
	out := []KeyNetworks{}
	if f == nil {
		return out
	}
	for _, k := range f.Keys {
		kn := KeyNetworks{KeyID: k.ID, Status: string(k.Status), IPException: k.IPException, Networks: []NetworkEntry{}}
		for _, c := range k.AllowedCIDRs {
			e := NetworkEntry{CIDR: c}
			if p, err := policy.ParseCIDR(c); err == nil {
				e.Family = "IPv6"
				if p.Addr().Is4() {
					e.Family = "IPv4"
				}
				e.Addresses = fmt.Sprintf("2^%d", p.Addr().BitLen()-p.Bits())
				e.EveryAddress = policy.IsEveryAddress(p)
			}
			kn.Networks = append(kn.Networks, e)
		}
		out = append(out, kn)
	}
	slices.SortFunc(out, func(a, b KeyNetworks) int { return strings.Compare(a.KeyID, b.KeyID) })
	return out
}
