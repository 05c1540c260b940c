package review

import (
	"fmt"
	"strings"
	"time"

	"github.com/awra/awragate/policy"
)

// KeysInput is the key registry as the review read it.
type KeysInput struct {
	Path   string           // the keys file
	SHA256 string           // hex digest of the file's bytes
	File   *policy.KeysFile // nil when the file could not be read
	Err    error            // cause of a nil File
}

// checkKeyScopes judges the key registry. Every key that can still be
// used (active or suspended) must have an owner, an expiry within
// p.MaxKeyLifetime of its creation and no wildcard scope. No active key
// may be past its expiry. Keys expiring within p.ExpiryNotice are listed,
// and keys open to every address are noted here and judged by the IP
// limits gate. Revoked keys are skipped.
func checkKeyScopes(keys KeysInput, p Policy, now time.Time) Gate {
	var fs findingList
	if keys.File == nil {
		fs.add(SeverityFail, "keys_file_unreadable", keys.Path,
			fmt.Sprintf("the keys file could not be read: %v; fix it or name it with --keys-file", keys.Err))
		return newGate(GateKeyScopes, fs)
	}
	if len(keys.File.Keys) == 0 {
		fs.add(SeverityInfo, "keys_none", keys.Path, "the keys file holds no keys")
	}

	count := map[policy.KeyStatus]int{}
	for i := range keys.File.Keys {
		k := &keys.File.Keys[i]
		count[k.Status]++
		if k.Status == policy.KeyRevoked {
			continue
		}
		checkKeyRecord(&fs, k, p, now)
	}
	fs.add(SeverityInfo, "keys_checked", keys.Path,
		fmt.Sprintf("keys: %d active, %d suspended, %d revoked (not judged); maximum lifetime %s (%s)",
			count[policy.KeyActive], count[policy.KeySuspended], count[policy.KeyRevoked], FormatDuration(p.MaxKeyLifetime), p.MaxKeyLifetimeSource))
	return newGate(GateKeyScopes, fs)
}

func checkKeyRecord(fs *findingList, k *policy.KeyRecord, p Policy, now time.Time) {
	id := k.ID
	if strings.TrimSpace(k.Owner) == "" {
		fs.add(SeverityFail, "key_owner_missing", id,
			fmt.Sprintf("key '%s' has no owner: set the team or person responsible for it", id))
	}

	expires := *k.ExpiresAt
	start := k.CreatedAt
	if start.IsZero() {
		start = now
		fs.add(SeverityWarn, "key_created_unknown", id,
			fmt.Sprintf("key '%s' has no created_at, so its lifetime is counted from the review time", id))
	}
	if lifetime := expires.Sub(start); lifetime > p.MaxKeyLifetime {
		fs.add(SeverityFail, "key_lifetime_exceeds_max", id,
			fmt.Sprintf("key '%s' lives %s from creation (%s) to expiry (%s), longer than the maximum of %s: rotate it into a key that expires sooner",
				id, FormatDuration(lifetime.Round(time.Hour)), dateText(start), dateText(expires), FormatDuration(p.MaxKeyLifetime)))
	}

	if k.Status == policy.KeyActive {
		switch {
		case !now.Before(expires):
			fs.add(SeverityFail, "key_expired_active", id,
				fmt.Sprintf("key '%s' expired on %s but is still active: revoke it with 'awragate keys revoke %s'", id, dateText(expires), id))
		case expires.Sub(now) <= p.ExpiryNotice:
			fs.add(SeverityWarn, "key_expiring_soon", id,
				fmt.Sprintf("key '%s' expires on %s, within %s: rotate it or let it lapse on purpose", id, dateText(expires), FormatDuration(p.ExpiryNotice)))
		}
	}

	for _, s := range k.Scopes {
		if policy.IsBroadScope(s) {
			fs.add(SeverityFail, "key_scope_wildcard", id,
				fmt.Sprintf("key '%s' holds the wildcard scope '%s', which grants more than any route names: replace it with the exact scopes the key needs", id, s))
		}
	}
	if broad := everyAddressNetworks(k.AllowedCIDRs); len(broad) > 0 {
		fs.add(SeverityWarn, "key_network_broad", id,
			fmt.Sprintf("key '%s' is broad: it may be used from every address (%s); the IP limits gate judges its exception", id, strings.Join(broad, ", ")))
	}
}

// dateText formats t as an RFC 3339 date in UTC.
func dateText(t time.Time) string {
	return t.UTC().Format("2006-01-02")
}

// everyAddressNetworks returns the networks of cidrs that admit every
// IPv4 or every IPv6 address.
func everyAddressNetworks(cidrs []string) []string {
	var out []string
	for _, c := range cidrs {
		if prefix, err := policy.ParseCIDR(c); err == nil && policy.IsEveryAddress(prefix) {
			out = append(out, c)
		}
	}
	return out
}
