package review

import (
	"fmt"
	"slices"
	"strings"

	"github.com/awra/awragate/policy"
)

// LeastPrivilege compares what each API key may do with what it did in
// the period. A scope counts as used when an allowed request of the key
// went to a route that requires a scope the grant covers. The event's
// scopes field contains the key's grants, not the route's requirement,
// so the route is found by replaying Caddy's routing on the event's
// method, host and path (see Deployment.Map). A network counts as used
// when an allowed request came from an address inside it.
type LeastPrivilege struct {
	Keys     []KeyPrivilege `json:"keys"`
	Plan     []KeyNarrowing `json:"plan"`
	Findings []Finding      `json:"findings"`
}

// KeyPrivilege is one key's grants against its observed use.
type KeyPrivilege struct {
	KeyID             string       `json:"key_id"`
	Status            string       `json:"status"`
	Allowed           int          `json:"allowed_requests"`
	Uncertain         int          `json:"requests_without_certain_route"`
	Throttled         int          `json:"throttled_requests"`
	Granted           []string     `json:"granted_scopes"`
	Exercised         []string     `json:"exercised_scopes"`
	UnusedScopes      []string     `json:"unused_scopes"`
	UnusedWriteScopes []string     `json:"unused_write_scopes"`
	Networks          []NetworkUse `json:"networks"`
	UnusedNetworks    []string     `json:"unused_networks"`
}

// NetworkUse is one allowed network with the number of distinct client
// addresses of allowed requests seen inside it.
type NetworkUse struct {
	CIDR    string `json:"cidr"`
	Clients int    `json:"clients"`
}

// KeyNarrowing is the change that limits a key to its observed use.
// Before holds the record as the review read it, so that a later edit
// is detected before the change is applied.
type KeyNarrowing struct {
	KeyID        string   `json:"key_id"`
	ScopesBefore []string `json:"scopes_before"`
	ScopesAfter  []string `json:"scopes_after"`
	CIDRsBefore  []string `json:"allowed_cidrs_before"`
	CIDRsAfter   []string `json:"allowed_cidrs_after"`
}

// RemovedScopes returns the scopes the narrowing takes away.
func (n KeyNarrowing) RemovedScopes() []string { return missingFrom(n.ScopesBefore, n.ScopesAfter) }

// AddedScopes returns the exact scopes that replace a wildcard grant.
func (n KeyNarrowing) AddedScopes() []string { return missingFrom(n.ScopesAfter, n.ScopesBefore) }

// RemovedCIDRs returns the networks the narrowing takes away.
func (n KeyNarrowing) RemovedCIDRs() []string { return missingFrom(n.CIDRsBefore, n.CIDRsAfter) }

// AnalyzeLeastPrivilege compares every key that is not revoked with its
// use in u. It plans a narrowing only for keys used in the period: an
// unused key is recommended for revocation instead. Scopes are narrowed
// only when every allowed request of the key was mapped to a route with
// certainty.
func AnalyzeLeastPrivilege(keys *policy.KeysFile, u *Usage) LeastPrivilege {
	lp := LeastPrivilege{Keys: []KeyPrivilege{}, Plan: []KeyNarrowing{}, Findings: []Finding{}}
	if keys == nil {
		return lp
	}
	var fs findingList
	for i := range keys.Keys {
		rec := &keys.Keys[i]
		if rec.Status == policy.KeyRevoked {
			continue
		}
		kp, narrowing := analyzeKey(rec, u.keys[rec.ID], &fs)
		lp.Keys = append(lp.Keys, kp)
		if narrowing != nil {
			lp.Plan = append(lp.Plan, *narrowing)
		}
	}
	slices.SortFunc(lp.Keys, func(a, b KeyPrivilege) int { return strings.Compare(a.KeyID, b.KeyID) })
	slices.SortFunc(lp.Plan, func(a, b KeyNarrowing) int { return strings.Compare(a.KeyID, b.KeyID) })
	sortFindings(fs)
	lp.Findings = append(lp.Findings, fs...)
	return lp
}

func analyzeKey(rec *policy.KeyRecord, ku *keyUsage, fs *findingList) (KeyPrivilege, *KeyNarrowing) {
	if ku == nil {
		ku = &keyUsage{}
	}
	id := rec.ID
	kp := KeyPrivilege{
		KeyID: id, Status: string(rec.Status), Allowed: ku.allowed, Uncertain: ku.uncertain, Throttled: ku.throttled,
		Granted: sortedCopy(rec.Scopes), Exercised: sortedSet(ku.exercised),
		UnusedScopes: []string{}, UnusedWriteScopes: []string{}, Networks: []NetworkUse{}, UnusedNetworks: []string{},
	}

	if ku.allowed == 0 {
		if rec.Status == policy.KeyActive {
			fs.add(SeverityWarn, "lp_key_unused", id, fmt.Sprintf("key '%s' made no allowed request in the period: revoke it with 'awragate keys revoke %s' unless it is kept for a known reason", id, id))
		}
		for _, c := range rec.AllowedCIDRs {
			kp.Networks = append(kp.Networks, NetworkUse{CIDR: c})
		}
		return kp, nil
	}

	newScopes := usedScopes(&kp, rec, ku, fs)
	newCIDRs := usedNetworks(&kp, rec, ku, fs)
	if ku.uncertain > 0 {
		fs.add(SeverityInfo, "lp_routes_uncertain", id,
			fmt.Sprintf("key '%s': %d allowed requests could not be mapped to one route with certainty, so its scopes are not narrowed", id, ku.uncertain))
		newScopes = rec.Scopes
	}

	n := &KeyNarrowing{
		KeyID:        id,
		ScopesBefore: slices.Clone(rec.Scopes), ScopesAfter: newScopes,
		CIDRsBefore: slices.Clone(rec.AllowedCIDRs), CIDRsAfter: newCIDRs,
	}
	if sameStrings(n.ScopesBefore, n.ScopesAfter) && sameStrings(n.CIDRsBefore, n.CIDRsAfter) {
		return kp, nil
	}
	return kp, n
}

// usedScopes fills the scope fields of kp and returns the grants that
// cover the exercised scopes: an exact grant is kept, and a wildcard grant
// is replaced by the exact scopes it was used for.
func usedScopes(kp *KeyPrivilege, rec *policy.KeyRecord, ku *keyUsage, fs *findingList) []string {
	var exercised []policy.Scope
	for s := range ku.exercised {
		if sc, err := policy.ParseRequiredScope(s); err == nil {
			exercised = append(exercised, sc)
		}
	}

	keep := map[string]bool{}
	for _, grant := range kp.Granted {
		set := policy.NewScopeSet([]string{grant})
		var covered []string
		for _, sc := range exercised {
			if set.Has(sc) {
				covered = append(covered, sc.String())
			}
		}
		switch {
		case len(covered) > 0 && policy.IsBroadScope(grant):
			for _, c := range covered {
				keep[c] = true
			}
		case len(covered) > 0:
			keep[grant] = true
		case isWriteScope(grant):
			kp.UnusedWriteScopes = append(kp.UnusedWriteScopes, grant)
			fs.add(SeverityWarn, "lp_write_scope_unused", rec.ID,
				fmt.Sprintf("key '%s' holds '%s' but made no request that needs it: make the key read-only by removing it", rec.ID, grant))
		default:
			kp.UnusedScopes = append(kp.UnusedScopes, grant)
			fs.add(SeverityWarn, "lp_scope_unused", rec.ID,
				fmt.Sprintf("key '%s' holds '%s' but made no request that needs it: remove it", rec.ID, grant))
		}
	}
	return sortedSet(keep)
}

// isWriteScope reports whether a scope's action can change data: every
// action other than "read", including "*".
func isWriteScope(scope string) bool {
	_, action, _ := strings.Cut(scope, ":")
	return action != "read"
}

// usedNetworks fills the network fields of kp and returns the allowed
// networks that clients of allowed requests came from.
func usedNetworks(kp *KeyPrivilege, rec *policy.KeyRecord, ku *keyUsage, fs *findingList) []string {
	var used []string
	for _, c := range rec.AllowedCIDRs {
		prefix, err := policy.ParseCIDR(c)
		clients := 0
		if err == nil {
			for ip := range ku.clientIPs {
				if prefix.Contains(ip) {
					clients++
				}
			}
		}
		kp.Networks = append(kp.Networks, NetworkUse{CIDR: c, Clients: clients})
		if clients > 0 {
			used = append(used, c)
			continue
		}
		kp.UnusedNetworks = append(kp.UnusedNetworks, c)
		fs.add(SeverityWarn, "lp_network_unused", rec.ID,
			fmt.Sprintf("key '%s' allows %s but no allowed request came from it: remove it", rec.ID, c))
	}
	return used
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}

func sortedSet[K ~string](m map[K]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	slices.Sort(out)
	return out
}

// missingFrom returns the items of a that b lacks, in a's order.
func missingFrom(a, b []string) []string {
	out := []string{}
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
