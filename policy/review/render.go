package review

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// RenderMarkdown renders the report for people. Text that comes from the
// configuration, the keys file or the audit stream is escaped, so it can
// neither break a table nor inject markup.
func RenderMarkdown(r *Report) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# awragate security review\n\n")
	failed := len(r.Failed())
	if failed == 0 {
		w("**Result: PASS**: all %d gates pass.\n\n", len(r.Gates))
	} else {
		w("**Result: FAIL**: %d of %d gates fail.\n\n", failed, len(r.Gates))
	}

	w("| | |\n|---|---|\n")
	w("| Tool | %s %s |\n", md(r.Tool.Name), md(r.Tool.Version))
	w("| Generated at | %s |\n", r.GeneratedAt.Format(time.RFC3339))
	w("| Reviewed as of | %s |\n", r.AsOf.Format(time.RFC3339))
	w("| Period | %s: %s to %s |\n", md(r.Period.Since), r.Period.Start.Format(time.RFC3339), r.Period.End.Format(time.RFC3339))
	w("| Configuration | %s (adapter %s), SHA-256 %s |\n", code(r.Config.Path), md(r.Config.Adapter), code(r.Config.SHA256))
	w("| Keys file | %s, %d keys, SHA-256 %s |\n", code(r.KeysFile.Path), r.KeysFile.Keys, code(r.KeysFile.SHA256))
	w("| Audit stream | %s on %s |\n", code(r.Audit.Stream), code(r.Audit.Redis))
	w("| Policy | key lifetime at most %s (%s); expiry notice %s; signed-URL max_ttl at most %s; signing secrets at least %d bytes; signing keys rotated within %s |\n\n",
		FormatDuration(r.Policy.MaxKeyLifetime), md(r.Policy.MaxKeyLifetimeSource), FormatDuration(r.Policy.ExpiryNotice),
		FormatDuration(r.Policy.MaxURLTTL), r.Policy.MinURLSecret, FormatDuration(r.Policy.URLKeyRotation))

	w("## Gates\n\n| # | Gate | Status | Failing findings |\n|---|---|---|---|\n")
	for i, g := range r.Gates {
		w("| %d | %s | **%s** | %d |\n", i+1, md(g.Title), g.Status, countSeverity(g.Findings, SeverityFail))
	}
	w("\n")
	for i, g := range r.Gates {
		w("### %d. %s: %s\n\n", i+1, md(g.Title), g.Status)
		writeFindings(&b, g.Findings)
	}

	renderLeastPrivilege(&b, r.LeastPrivilege)
	renderHealth(&b, r.Health)

	w("## Evidence\n\nEvery file below is listed with its SHA-256 in MANIFEST.json, which MANIFEST.json.sig signs with Ed25519. Check the package with `awragate review verify DIR --public-key FILE`.\n\n")
	for _, f := range r.Evidence {
		w("- %s\n", code(f))
	}
	w("\n## Method\n\n")
	for _, n := range r.Method {
		w("- %s\n", md(n))
	}
	return b.Bytes()
}

func writeFindings(b *bytes.Buffer, fs []Finding) {
	if len(fs) == 0 {
		b.WriteString("No findings.\n\n")
		return
	}
	for _, f := range fs {
		fmt.Fprintf(b, "- **%s** %s: %s\n", strings.ToUpper(string(f.Severity)), code(f.Code), md(f.Message))
	}
	b.WriteString("\n")
}

func renderLeastPrivilege(b *bytes.Buffer, lp LeastPrivilege) {
	b.WriteString("## Least privilege\n\nScopes and networks each key holds against its allowed requests in the period.\n\n")
	b.WriteString("| Key | Status | Allowed | Exercised scopes | Unused scopes | Unused write scopes | Unused networks |\n|---|---|---|---|---|---|---|\n")
	for _, k := range lp.Keys {
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s |\n", code(k.KeyID), md(k.Status), k.Allowed,
			list(k.Exercised), list(k.UnusedScopes), list(k.UnusedWriteScopes), list(k.UnusedNetworks))
	}
	b.WriteString("\n")
	writeFindings(b, lp.Findings)

	if len(lp.Plan) == 0 {
		b.WriteString("No key needs narrowing.\n\n")
		return
	}
	b.WriteString("Planned narrowing (apply with `awragate review --apply-least-privilege --keys-file FILE`):\n\n")
	for _, n := range lp.Plan {
		var changes []string
		if !sameStrings(n.ScopesBefore, n.ScopesAfter) {
			changes = append(changes, fmt.Sprintf("scopes %s become %s", list(n.ScopesBefore), list(n.ScopesAfter)))
		}
		if !sameStrings(n.CIDRsBefore, n.CIDRsAfter) {
			changes = append(changes, fmt.Sprintf("networks %s become %s", list(n.CIDRsBefore), list(n.CIDRsAfter)))
		}
		fmt.Fprintf(b, "- %s: %s\n", code(n.KeyID), strings.Join(changes, "; "))
	}
	b.WriteString("\n")
}

func renderHealth(b *bytes.Buffer, h Health) {
	b.WriteString("## Health\n\n| Route | Module | Allowed | Denied | Denials by reason | Upstream 5xx | Webhooks forwarded / duplicates | Signed timestamp to arrival (p50 / p99 / max ms) |\n|---|---|---|---|---|---|---|---|\n")
	rows := append(append([]RouteHealth(nil), h.Routes...), h.Unmapped...)
	for _, r := range rows {
		var reasons []string
		for _, d := range r.Denials {
			reasons = append(reasons, fmt.Sprintf("%s %d", d.Reason, d.Count))
		}
		hooks, delay := "", ""
		if r.Module == "webhook" {
			hooks = fmt.Sprintf("%d / %d", r.WebhookForwarded, r.WebhookDuplicates)
		}
		if d := r.SignedDelay; d != nil {
			delay = fmt.Sprintf("%d / %d / %d (%d deliveries)", d.P50MS, d.P99MS, d.MaxMS, d.Count)
		}
		fmt.Fprintf(b, "| %s | %s | %d | %d | %s | %d | %s | %s |\n", md(r.Route), md(string(r.Module)), r.Allowed, r.Denied,
			md(strings.Join(reasons, ", ")), r.Upstream5xx, hooks, delay)
	}

	b.WriteString("\nThrottle hits (rate_limited) per key: ")
	if len(h.Throttled) == 0 {
		b.WriteString("none.\n")
	} else {
		var parts []string
		for _, k := range h.Throttled {
			parts = append(parts, fmt.Sprintf("%s %d", code(k.KeyID), k.Count))
		}
		b.WriteString(strings.Join(parts, ", ") + ".\n")
	}
	fmt.Fprintf(b, "\nWebhook delay between the provider's signed timestamp and arrival: %s.\n\n", md(h.WebhookDelay))
}

func countSeverity(fs []Finding, sev Severity) int {
	n := 0
	for _, f := range fs {
		if f.Severity == sev {
			n++
		}
	}
	return n
}

// md escapes untrusted text for Markdown running text and table cells.
var mdEscaper = strings.NewReplacer(
	"\\", "\\\\", "|", "\\|", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]",
	"<", "&lt;", ">", "&gt;", "#", "\\#", "\n", " ", "\r", " ",
)

func md(s string) string { return mdEscaper.Replace(s) }

// code renders s as inline code, which needs no escaping except that
// backticks and line breaks cannot appear in it, and pipes are escaped
// for tables.
func code(s string) string {
	if s == "" {
		return "(none)"
	}
	s = strings.NewReplacer("`", "'", "\n", " ", "\r", " ", "|", "\\|").Replace(s)
	return "`" + s + "`"
}

func list(items []string) string {
	if len(items) == 0 {
		return "-"
	}
	parts := make([]string, len(items))
	for i, s := range items {
		parts[i] = code(s)
	}
	return strings.Join(parts, ", ")
}
