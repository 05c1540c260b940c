package review

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/awra/awragate/policy/audit"
)

// The seed corpora of these targets are in testdata/fuzz/<target>/.

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"schema":"awragate-review-manifest/1","files":[{"path":"report.md","size":3,"sha256":"` + strings.Repeat("0", 64) + `"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		for _, file := range m.Files {
			if !validRelPath(file.Path) || strings.HasPrefix(file.Path, "../") {
				t.Fatalf("ParseManifest accepted path %q", file.Path)
			}
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseManifest(again); err != nil {
			t.Fatalf("ParseManifest(Marshal(m)) = %v", err)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30d", "36h", "0d", "-1h", "99999999999d", "1.5d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d <= 0 {
			t.Fatalf("ParseDuration(%q) = %v, want a positive duration", s, d)
		}
	})
}

func FuzzSigningKeyDate(f *testing.F) {
	for _, s := range []string{"k20260115", "k2026-01", "k2025", "primary", "k2026-02-30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		d, ok := dateInKeyID(id)
		if ok && (d.Created.Year() < 1970 || d.Created.Year() > 2099) {
			t.Fatalf("dateInKeyID(%q) = %v, outside 1970 to 2099", id, d.Created)
		}
	})
}

func FuzzResolveSecret(f *testing.F) {
	for _, s := range []string{"{env.A}", "x{env.A}y", "{file./x}", "{", "}{", "{env.}", "{{env.A}}"} {
		f.Add(s)
	}
	env := Env{Getenv: func(string) string { return "value" }}
	f.Fuzz(func(t *testing.T, raw string) {
		info := env.ResolveSecret(raw)
		if info.Source != "" && info.Source != raw {
			t.Fatalf("ResolveSecret(%q).Source = %q, want the raw text or nothing", raw, info.Source)
		}
		if info.Source != "" && info.Literal {
			t.Fatalf("ResolveSecret(%q) is both placeholder-only and literal", raw)
		}
	})
}

func FuzzParseDeployment(f *testing.F) {
	f.Add([]byte(`{"apps":{"http":{"servers":{"s":{"routes":[{"match":[{"path":["/a/*"]}],"handle":[{"handler":"subroute","routes":[{"handle":[{"handler":"awra_api_key","scopes":["a:read"]}]}]}]}]}}}}}`))
	f.Add([]byte(`{"apps":{"awra":{"max_key_lifetime":"30d","audit":{"chain_key":"{env.K}"}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDeployment(data, Env{})
		if err != nil {
			return
		}
		// Mapping must not panic on any deployment that parses.
		d.Map(&audit.Event{Module: audit.ModuleAPIKey, Method: "GET", Host: "a:1", Path: "/a/b"})
	})
}
