package policy

import "testing"

func TestScopeSetHas(t *testing.T) {
	tests := []struct {
		granted  []string
		required string
		want     bool
	}{
		{[]string{"inventory:read"}, "inventory:read", true},
		{[]string{"inventory:read"}, "inventory:write", false},
		{[]string{"inventory:read"}, "sales:read", false},
		{[]string{"inventory:*"}, "inventory:write", true},
		{[]string{"inventory:*"}, "sales:write", false},
		{[]string{"*:read"}, "sales:read", true},
		{[]string{"*:read"}, "sales:write", false},
		{[]string{"*:*"}, "procurement:approve", true},
		{[]string{"sales:write", "inventory:read"}, "inventory:read", true},
		// A prefix of a resource name is not a wildcard.
		{[]string{"inv:*"}, "inventory:read", false},
		{nil, "inventory:read", false},
	}
	for _, tt := range tests {
		req, err := ParseRequiredScope(tt.required)
		if err != nil {
			t.Fatalf("ParseRequiredScope(%q): %v", tt.required, err)
		}
		if got := NewScopeSet(tt.granted).Has(req); got != tt.want {
			t.Errorf("NewScopeSet(%q).Has(%q) = %v, want %v", tt.granted, tt.required, got, tt.want)
		}
	}
}

func TestScopeSetHasAllReportsMissing(t *testing.T) {
	set := NewScopeSet([]string{"inventory:read"})
	a, _ := ParseRequiredScope("inventory:read")
	b, _ := ParseRequiredScope("sales:write")
	missing, ok := set.HasAll([]Scope{a, b})
	if ok || missing.String() != "sales:write" {
		t.Errorf("HasAll = %q, %v; want sales:write, false", missing.String(), ok)
	}
	if _, ok := set.HasAll(nil); !ok {
		t.Error("HasAll(nil) = false; want true")
	}
}

func TestValidateScope(t *testing.T) {
	valid := []string{"inventory:read", "inventory:*", "*:read", "*:*", "field_work:sync", "qb.v3:write-back"}
	for _, s := range valid {
		if err := ValidateScope(s); err != nil {
			t.Errorf("ValidateScope(%q) = %v; want nil", s, err)
		}
	}
	invalid := []string{"", "inventory", ":read", "inventory:", "Inventory:read", "inv entory:read", "a:b:c", "inv*:read", "inventory:re*"}
	for _, s := range invalid {
		if err := ValidateScope(s); err == nil {
			t.Errorf("ValidateScope(%q) = nil; want an error", s)
		}
	}
	for _, s := range []string{"inventory:*", "*:read"} {
		if err := ValidateRequiredScope(s); err == nil {
			t.Errorf("ValidateRequiredScope(%q) = nil; want an error: routes name exact scopes", s)
		}
	}
}
