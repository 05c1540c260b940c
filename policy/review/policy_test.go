package review

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestSigningKeyDateFromID(t *testing.T) {
	date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		id        string
		want      time.Time
		precision string
		ok        bool
	}{
		{"k20260115", date(2026, 1, 15), "day", true},
		{"k2026-01-15", date(2026, 1, 15), "day", true},
		{"url-2026-03", date(2026, 3, 1), "month", true},
		{"k202603", date(2026, 3, 1), "month", true},
		{"k2025", date(2025, 1, 1), "year", true},
		{"2024", date(2024, 1, 1), "year", true},
		{"k2-20260115", date(2026, 1, 15), "day", true},
		{"k2025-rotated-20260201", date(2026, 2, 1), "day", true},
		{"k20260231", time.Time{}, "", false},  // no 31 February
		{"k2026-0115", time.Time{}, "", false}, // mixed separators
		{"k120260115", time.Time{}, "", false}, // nine digits: not a date
		{"primary", time.Time{}, "", false},
		{"k1969", time.Time{}, "", false},
		{"k2100", time.Time{}, "", false},
		{"", time.Time{}, "", false},
	}
	for _, tt := range tests {
		got, ok := DefaultPolicy().SigningKeyDate(tt.id)
		if ok != tt.ok || !got.Created.Equal(tt.want) || got.Precision != tt.precision {
			t.Errorf("SigningKeyDate(%q) = %v %s %v, want %v %s %v", tt.id, got.Created, got.Precision, ok, tt.want, tt.precision, tt.ok)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * day, true},
		{"36h", 36 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"0d", 0, false},
		{"0", 0, false},
		{"-5d", 0, false},
		{"-1h", 0, false},
		{"1.5d", 0, false},
		{"100001d", 0, false},
		{"d", 0, false},
		{"", 0, false},
		{"30 d", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{30 * day, "30d"},
		{24 * time.Hour, "24h"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{30 * time.Second, "30s"},
		{36 * time.Hour, "36h"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.in); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestResolveSecret(t *testing.T) {
	env := Env{
		Getenv: func(name string) string {
			return map[string]string{"A": "0123456789", "B": "xyz"}[name]
		},
		ReadFile: func(path string) ([]byte, error) {
			if path == "/run/secret" {
				return []byte("file-secret\r\n"), nil
			}
			return nil, errors.New("no such file")
		},
	}
	tests := []struct {
		raw        string
		length     int
		source     string
		literal    bool
		unresolved []string
	}{
		{"{env.A}", 10, "{env.A}", false, nil},
		{"{env.A}{env.B}", 13, "{env.A}{env.B}", false, nil},
		{"pre-{env.A}", 14, "", true, nil},
		{"{env.UNSET}", 0, "{env.UNSET}", false, []string{"env.UNSET"}},
		{"{file./run/secret}", 11, "{file./run/secret}", false, nil},
		{"{file./missing}", 0, "{file./missing}", false, []string{"file./missing"}},
		{"literal-secret", 14, "", true, nil},
		{"{http.request.host}", 19, "", true, nil},
		{"{env.A", 6, "", true, nil},
		{"", 0, "", false, nil},
	}
	for _, tt := range tests {
		got := env.ResolveSecret(tt.raw)
		if got.Length != tt.length || got.Source != tt.source || got.Literal != tt.literal || !slices.Equal(got.Unresolved, tt.unresolved) {
			t.Errorf("ResolveSecret(%q) = %+v, want length %d, source %q, literal %v, unresolved %v", tt.raw, got, tt.length, tt.source, tt.literal, tt.unresolved)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://user:secret@10.0.0.5:6379/2", "redis://10.0.0.5:6379/2"},
		{"rediss://:secret@cache.internal:6380/0?dial_timeout=3s", "rediss://cache.internal:6380/0"},
		{"redis://127.0.0.1:6379", "redis://127.0.0.1:6379"},
		{"not a url with secret", "(URL not shown: it does not parse)"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
