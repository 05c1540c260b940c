package auditcli

import (
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		value string
		want  time.Time
	}{
		{"rfc3339 utc", "2026-01-02T15:04:05Z", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
		{"rfc3339 offset to utc", "2026-01-02T17:04:05+02:00", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
		{"rfc3339 nanoseconds", "2026-01-02T15:04:05.123456789Z", time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC)},
		{"hours back", "24h", now.Add(-24 * time.Hour)},
		{"minutes back", "90m", now.Add(-90 * time.Minute)},
		{"days back", "30d", now.Add(-30 * 24 * time.Hour)},
		{"zero is now", "0", now},
		{"zero days is now", "0d", now},
		{"max days", "100000d", now.Add(-100000 * 24 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTime("--since", tt.value, now)
			if err != nil {
				t.Fatalf("ParseTime(%q) error = %v, want nil", tt.value, err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("ParseTime(%q) = %v, want %v in UTC", tt.value, got, tt.want)
			}
		})
	}
}

func TestParseTimeRejects(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		value   string
		wantMsg string
	}{
		{"empty", "", "--until is empty"},
		{"word", "yesterday", "invalid time or duration"},
		{"negative duration", "-24h", "drop the sign"},
		{"negative days", "-3d", "whole number"},
		{"fractional days", "1.5d", "whole number"},
		{"bare d", "d", "whole number"},
		{"too many days", "100001d", "at most 100000 days"},
		{"days overflow", "99999999999999999999d", "at most 100000 days"},
		{"duration overflow", "9999999999h", "invalid time or duration"},
		{"date without time", "2026-01-02", "RFC 3339 with a time zone"},
		{"time without zone", "2026-01-02T15:04:05", "RFC 3339 with a time zone"},
		{"month 13", "2026-13-02T15:04:05Z", "RFC 3339 with a time zone"},
		{"unix seconds", "1767366245", "invalid time or duration"},
		{"control characters", "24h\n", "invalid time or duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTime("--until", tt.value, now)
			if err == nil {
				t.Fatalf("ParseTime(%q) = %v, want an error", tt.value, got)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("ParseTime(%q) error = %q, want it to contain %q", tt.value, msg, tt.wantMsg)
			}
			if !strings.HasPrefix(msg, "--until") {
				t.Errorf("ParseTime(%q) error = %q, want it to name --until first", tt.value, msg)
			}
		})
	}
}

func TestParseCount(t *testing.T) {
	tests := []struct {
		value string
		want  int
		ok    bool
	}{
		{"0", 0, true},
		{"20", 20, true},
		{"100000", 100000, true},
		{"100001", 0, false},
		{"-1", 0, false},
		{"abc", 0, false},
		{"", 0, false},
		{"1e3", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := ParseCount(tt.value)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseCount(%q) = %d, %v, want %d, ok %v", tt.value, got, err, tt.want, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "--count '"+tt.value+"'") {
				t.Errorf("ParseCount(%q) error = %q, want it to name the flag and value", tt.value, err)
			}
		})
	}
}

func TestExportArgsRejects(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		args    ExportArgs
		wantMsg string
	}{
		{"missing out", ExportArgs{}, "missing --out"},
		{"bad since", ExportArgs{Out: "x", Since: "soon"}, "--since 'soon'"},
		{"bad until", ExportArgs{Out: "x", Until: "later"}, "--until 'later'"},
		{"since after until", ExportArgs{Out: "x", Since: "1h", Until: "2h"}, "--since '1h' is not before --until '2h'"},
		{"since equals until", ExportArgs{Out: "x", Since: "2026-01-02T00:00:00Z", Until: "2026-01-02T00:00:00Z"}, "is not before"},
		{"unknown decision", ExportArgs{Out: "x", Decision: "maybe"}, "--decision 'maybe': unknown decision: use allow or deny"},
		{"upper-case decision", ExportArgs{Out: "x", Decision: "DENY"}, "--decision 'DENY'"},
		{"unknown module", ExportArgs{Out: "x", Module: "apikey"}, "--module 'apikey': unknown module: use one of api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.args.filter(now)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("filter(%+v) error = %v, want it to contain %q", tt.args, err, tt.wantMsg)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://user:hunter2@127.0.0.1:6379/0", "redis://user:xxxxx@127.0.0.1:6379/0"},
		{"redis://:hunter2@127.0.0.1/0", "redis://:xxxxx@127.0.0.1/0"},
		{"redis://us er:hunter2@host%zz/0", "***@host%zz/0"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.raw); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// FuzzParseTime checks that any flag value either fails with an error
// naming the flag or gives a UTC time, and that a duration never lands in
// the future.
func FuzzParseTime(f *testing.F) {
	for _, seed := range []string{"24h", "30d", "0", "2026-01-02T15:04:05Z", "2026-01-02T17:04:05.5+02:00", "-1h", "1.5d", "100001d", "9999999999h", "d", ""} {
		f.Add(seed)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value string) {
		got, err := ParseTime("--since", value, now)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--since") {
				t.Fatalf("ParseTime(%q) error = %q, want it to start with the flag name", value, err)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v, want UTC", value, got)
		}
		if _, rfcErr := time.Parse(time.RFC3339Nano, value); rfcErr != nil && got.After(now) {
			t.Fatalf("ParseTime(%q) = %v, a duration back from %v must not be later", value, got, now)
		}
	})
}
