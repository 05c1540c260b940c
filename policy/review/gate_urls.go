package review

import (
	"fmt"
	"strings"
	"time"
)

// checkURLExpiry judges the signed-URL routes: every route's max_ttl is
// within p.MaxURLTTL, every secret resolves to at least p.MinURLSecret
// bytes, and no key is older than p.URLKeyRotation. A key's age comes from
// p.SigningKeyCreated or from a date in its id (see Policy.SigningKeyDate).
// A key whose age cannot be known fails, because the auditor cannot
// confirm its rotation.
func checkURLExpiry(d *Deployment, p Policy, now time.Time) Gate {
	var fs findingList
	if len(d.SignedURLRoutes) == 0 {
		fs.add(SeverityInfo, "url_routes_none", "", "the configuration has no awra_signed_url route")
	}

	for _, r := range d.SignedURLRoutes {
		if r.MaxTTL > p.MaxURLTTL {
			fs.add(SeverityFail, "url_max_ttl_exceeds_policy", r.Label,
				fmt.Sprintf("route '%s' accepts links valid for up to %s, longer than the policy's %s: lower max_ttl", r.Label, FormatDuration(r.MaxTTL), FormatDuration(p.MaxURLTTL)))
		}
		if len(r.Keys) == 0 {
			fs.add(SeverityFail, "url_keys_missing", r.Label, fmt.Sprintf("route '%s' has no signing key", r.Label))
		}
		for _, k := range r.Keys {
			checkSigningKey(&fs, r.Label, k, p, now)
		}
	}
	return newGate(GateURLExpiry, fs)
}

func checkSigningKey(fs *findingList, route string, k SigningKeyInfo, p Policy, now time.Time) {
	subject := k.ID + " on " + route
	switch {
	case len(k.Secret.Unresolved) > 0 && k.Secret.Length == 0:
		fs.add(SeverityFail, "url_secret_unresolved", subject,
			fmt.Sprintf("key '%s' on route '%s': the secret is empty after replacing %s; export it in the review's environment as the gateway has it",
				k.ID, route, strings.Join(k.Secret.Placeholders, ", ")))
	case k.Secret.Length < p.MinURLSecret:
		fs.add(SeverityFail, "url_secret_too_short", subject,
			fmt.Sprintf("key '%s' on route '%s': the secret is %d bytes, shorter than %d: replace it with at least %d random bytes",
				k.ID, route, k.Secret.Length, p.MinURLSecret, p.MinURLSecret))
	}
	if k.Secret.Literal {
		fs.add(SeverityWarn, "url_secret_in_config", subject,
			fmt.Sprintf("key '%s' on route '%s': the secret is written in the configuration, which the admin API returns: use a placeholder such as {env.NAME}", k.ID, route))
	}

	date, ok := p.SigningKeyDate(k.ID)
	if !ok {
		fs.add(SeverityFail, "url_key_age_unknown", subject,
			fmt.Sprintf("key '%s' on route '%s': its creation date is unknown: put the date in the key id (k20260115) or give it with --signing-key-created %s=YYYY-MM-DD", k.ID, route, k.ID))
		return
	}
	age := now.Sub(date.Created)
	fs.add(SeverityInfo, "url_key_checked", subject,
		fmt.Sprintf("key '%s' on route '%s': secret of %d bytes from %s; created %s (from the %s, %s precision)",
			k.ID, route, k.Secret.Length, secretSource(k.Secret), dateText(date.Created), date.Source, date.Precision))
	switch {
	case age < -day:
		fs.add(SeverityWarn, "url_key_date_future", subject,
			fmt.Sprintf("key '%s' on route '%s': its creation date %s (from the %s) is in the future", k.ID, route, dateText(date.Created), date.Source))
	case age > p.URLKeyRotation:
		fs.add(SeverityFail, "url_key_rotation_overdue", subject,
			fmt.Sprintf("key '%s' on route '%s' was created on %s (from the %s, %s precision), %d days ago, beyond the rotation period of %s: add a new key, move signers to it, then remove this one",
				k.ID, route, dateText(date.Created), date.Source, date.Precision, wholeDays(age), FormatDuration(p.URLKeyRotation)))
	}
}
