package review

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
	"github.com/awra/awragate/policy/keystore"
)

// inventoryKey is granted inventory:read, inventory:write and sales:read
// from two networks.
func inventoryKey() policy.KeyRecord {
	k := goodKey("k-inv")
	k.Scopes = []string{"inventory:read", "inventory:write", "sales:read"}
	k.AllowedCIDRs = []string{"203.0.113.0/24", "198.51.100.0/24"}
	return k
}

func apiEvent(keyID, method, path, clientIP string, allow bool) *audit.Event {
	ev := &audit.Event{Module: audit.ModuleAPIKey, Decision: audit.DecisionDeny, KeyID: keyID, Method: method,
		Host: "api.example.com:8443", Path: path, ClientIP: clientIP, Status: 403, Reason: policy.ReasonScopeMissing}
	if allow {
		ev.Decision, ev.Status, ev.Reason = audit.DecisionAllow, 200, ""
	}
	return ev
}

func analyze(t *testing.T, keys []policy.KeyRecord, events ...*audit.Event) LeastPrivilege {
	t.Helper()
	u := NewUsage(loadFixture(t))
	for _, ev := range events {
		u.Observe(ev)
	}
	return AnalyzeLeastPrivilege(&policy.KeysFile{Version: 1, Keys: keys}, u)
}

func findingCodes(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	slices.Sort(out)
	return out
}

func TestLeastPrivilegeInventoryKey(t *testing.T) {
	lp := analyze(t, []policy.KeyRecord{inventoryKey()},
		apiEvent("k-inv", "GET", "/api/inventory/items", "203.0.113.7", true),
		apiEvent("k-inv", "GET", "/api/inventory/items/9", "203.0.113.8", true),
		apiEvent("k-inv", "GET", "/api/sales/q1", "198.51.100.4", false), // denied: not a use
	)

	kp := lp.Keys[0]
	if got, want := kp.Exercised, []string{"inventory:read"}; !slices.Equal(got, want) {
		t.Errorf("exercised = %v, want %v", got, want)
	}
	if got, want := kp.UnusedScopes, []string{"sales:read"}; !slices.Equal(got, want) {
		t.Errorf("unused scopes = %v, want %v", got, want)
	}
	if got, want := kp.UnusedWriteScopes, []string{"inventory:write"}; !slices.Equal(got, want) {
		t.Errorf("unused write scopes = %v, want %v", got, want)
	}
	if got, want := kp.UnusedNetworks, []string{"198.51.100.0/24"}; !slices.Equal(got, want) {
		t.Errorf("unused networks = %v, want %v", got, want)
	}
	if got, want := findingCodes(lp.Findings), []string{"lp_network_unused", "lp_scope_unused", "lp_write_scope_unused"}; !slices.Equal(got, want) {
		t.Errorf("finding codes = %v, want %v", got, want)
	}

	if len(lp.Plan) != 1 {
		t.Fatalf("plan = %+v, want one narrowing", lp.Plan)
	}
	n := lp.Plan[0]
	if !slices.Equal(n.ScopesAfter, []string{"inventory:read"}) || !slices.Equal(n.CIDRsAfter, []string{"203.0.113.0/24"}) {
		t.Errorf("narrowing = scopes %v, networks %v, want [inventory:read], [203.0.113.0/24]", n.ScopesAfter, n.CIDRsAfter)
	}
	if got, want := n.RemovedScopes(), []string{"inventory:write", "sales:read"}; !slices.Equal(got, want) {
		t.Errorf("RemovedScopes = %v, want %v", got, want)
	}
}

func TestLeastPrivilegeCases(t *testing.T) {
	wildcard := goodKey("k-wild")
	wildcard.Scopes = []string{"inventory:*", "sales:read"}
	exact := goodKey("k-exact")
	revoked := inventoryKey()
	revoked.ID, revoked.Status = "k-old", policy.KeyRevoked

	tests := []struct {
		name       string
		key        policy.KeyRecord
		events     []*audit.Event
		wantScopes []string // nil: no narrowing planned
		wantCodes  []string
	}{
		{"wildcard becomes the exact scopes used", wildcard, []*audit.Event{
			apiEvent("k-wild", "GET", "/api/inventory/a", "203.0.113.1", true),
			apiEvent("k-wild", "POST", "/api/inventory-admin/a", "203.0.113.1", true),
		}, []string{"inventory:read", "inventory:write"}, []string{"lp_scope_unused"}},
		{"exact use needs nothing", exact, []*audit.Event{apiEvent("k-exact", "GET", "/api/inventory/a", "203.0.113.1", true)}, nil, nil},
		{"unused key", exact, nil, nil, []string{"lp_key_unused"}},
		{"only denied requests", exact, []*audit.Event{apiEvent("k-exact", "GET", "/api/sales/a", "203.0.113.1", false)}, nil, []string{"lp_key_unused"}},
		{"uncertain route keeps the scopes", inventoryKey(), []*audit.Event{
			apiEvent("k-inv", "GET", "/api/inventory/a", "203.0.113.1", true),
			apiEvent("k-inv", "GET", "/tenant/data", "203.0.113.1", true),
		}, nil, []string{"lp_network_unused", "lp_routes_uncertain", "lp_scope_unused", "lp_write_scope_unused"}},
		{"revoked key is skipped", revoked, []*audit.Event{apiEvent("k-old", "GET", "/api/inventory/a", "203.0.113.1", true)}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lp := analyze(t, []policy.KeyRecord{tt.key}, tt.events...)
			if got := findingCodes(lp.Findings); !slices.Equal(got, tt.wantCodes) {
				t.Errorf("finding codes = %v, want %v", got, tt.wantCodes)
			}
			var gotScopes []string
			for _, n := range lp.Plan {
				if !sameStrings(n.ScopesBefore, n.ScopesAfter) {
					gotScopes = n.ScopesAfter
				}
			}
			if !slices.Equal(gotScopes, tt.wantScopes) {
				t.Errorf("narrowed scopes = %v, want %v", gotScopes, tt.wantScopes)
			}
		})
	}
}

func writeTestKeys(t *testing.T, keys ...policy.KeyRecord) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	err := keystore.Update(path, func(f *policy.KeysFile) error {
		f.Keys = append(f.Keys, keys...)
		return nil
	})
	if err != nil {
		t.Fatalf("writing the keys file: %v", err)
	}
	return path
}

func TestApplyNarrowing(t *testing.T) {
	plan := []KeyNarrowing{{
		KeyID:        "k-inv",
		ScopesBefore: []string{"inventory:read", "inventory:write", "sales:read"}, ScopesAfter: []string{"inventory:read"},
		CIDRsBefore: []string{"203.0.113.0/24", "198.51.100.0/24"}, CIDRsAfter: []string{"203.0.113.0/24"},
	}}

	t.Run("applies", func(t *testing.T) {
		path := writeTestKeys(t, inventoryKey(), goodKey("k-other"))
		if err := ApplyNarrowing(path, plan, reviewNow); err != nil {
			t.Fatalf("ApplyNarrowing = %v", err)
		}
		f, err := keystore.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		k := f.Keys[0]
		if !slices.Equal(k.Scopes, []string{"inventory:read"}) || !slices.Equal(k.AllowedCIDRs, []string{"203.0.113.0/24"}) || !k.UpdatedAt.Equal(reviewNow) {
			t.Errorf("narrowed key = scopes %v, networks %v, updated %v", k.Scopes, k.AllowedCIDRs, k.UpdatedAt)
		}
		if other := f.Keys[1]; !slices.Equal(other.Scopes, goodKey("k-other").Scopes) {
			t.Errorf("other key's scopes = %v, want unchanged", other.Scopes)
		}
	})

	t.Run("key changed since the review", func(t *testing.T) {
		changed := inventoryKey()
		changed.Scopes = []string{"inventory:read", "inventory:write"}
		path := writeTestKeys(t, changed)
		before, _ := os.ReadFile(path)
		err := ApplyNarrowing(path, plan, reviewNow)
		if err == nil || !strings.Contains(err.Error(), "changed since the review") {
			t.Errorf("ApplyNarrowing = %v, want a changed-since-the-review error", err)
		}
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Error("the keys file changed although the narrowing was rejected")
		}
	})

	t.Run("key removed since the review", func(t *testing.T) {
		path := writeTestKeys(t, goodKey("k-other"))
		if err := ApplyNarrowing(path, plan, reviewNow); err == nil || !strings.Contains(err.Error(), "no longer in the keys file") {
			t.Errorf("ApplyNarrowing = %v, want a no-longer-in-the-file error", err)
		}
	})
}

func TestNarrowingDetail(t *testing.T) {
	n := KeyNarrowing{KeyID: "k", ScopesBefore: []string{"a:*"}, ScopesAfter: []string{"a:read"}, CIDRsBefore: []string{"10.0.0.0/8", "::1/128"}, CIDRsAfter: []string{"10.0.0.0/8"}}
	got := NarrowingDetail(n, "/etc/keys.json")
	want := "removed_scopes=a:* added_scopes=a:read removed_cidrs=::1/128 keys_file=/etc/keys.json"
	if got != want {
		t.Errorf("NarrowingDetail = %q, want %q", got, want)
	}
}
