package fleet

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

// testRecord returns a valid active record for key id.
func testRecord(id string) policy.KeyRecord {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	expires := created.Add(90 * 24 * time.Hour)
	return policy.KeyRecord{
		ID:           id,
		Owner:        "team-a",
		Scopes:       []string{"inventory:read"},
		AllowedCIDRs: []string{"10.0.0.0/8"},
		CreatedAt:    created,
		ExpiresAt:    &expires,
		Status:       policy.KeyActive,
		Secrets: []policy.SecretHash{{
			Hash:      policy.FormatHash(policy.HashToken("awra_" + id + "_" + strings.Repeat("A", 32))),
			CreatedAt: created,
		}},
	}
}

func storedJSON(t testing.TB, rev int64, rec policy.KeyRecord) string {
	t.Helper()
	data, err := json.Marshal(StoredKey{Rev: rev, Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestParseStoredKey(t *testing.T) {
	good := storedJSON(t, 4, testRecord("k1"))
	sk, err := ParseStoredKey("k1", []byte(good))
	if err != nil || sk.Rev != 4 || sk.Record.ID != "k1" {
		t.Fatalf("ParseStoredKey(valid) = %+v, %v, want rev 4 of k1", sk, err)
	}

	noScopes := testRecord("k1")
	noScopes.Scopes = nil
	tests := []struct {
		name string
		id   string
		data string
	}{
		{"empty", "k1", ``},
		{"not json", "k1", `{`},
		{"zero rev", "k1", storedJSON(t, 0, testRecord("k1"))},
		{"other id", "k2", good},
		{"invalid record", "k1", storedJSON(t, 1, noScopes)},
		{"unknown field", "k1", `{"rev":1,"extra":1,"record":{}}`},
		{"trailing data", "k1", good + `{}`},
		{"too large", "k1", `{"rev":1,"record":{"description":"` + strings.Repeat("x", maxStoredKeySize) + `"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseStoredKey(tt.id, []byte(tt.data)); err == nil {
				t.Errorf("ParseStoredKey(%q, %.40s) = nil error, want an error", tt.id, tt.data)
			}
		})
	}
}

func FuzzParseStoredKey(f *testing.F) {
	rec := testRecord("k1")
	data, _ := json.Marshal(StoredKey{Rev: 1, Record: rec})
	f.Add("k1", data)
	f.Add("k1", []byte(`{"rev":1,"record":{"id":"k1"}}`))
	f.Add("", []byte(`{}`))
	f.Fuzz(func(t *testing.T, id string, data []byte) {
		sk, err := ParseStoredKey(id, data)
		if err != nil {
			return
		}
		if sk.Record.ID != id || sk.Rev < 1 {
			t.Errorf("ParseStoredKey(%q) = %+v, want a record of that id with a positive revision", id, sk)
		}
		if err := sk.Record.Validate(); err != nil {
			t.Errorf("ParseStoredKey accepted an invalid record: %v", err)
		}
	})
}
