package keyscli

import (
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

func TestParseLifetime(t *testing.T) {
	const day = 24 * time.Hour
	valid := []struct {
		in   string
		want time.Duration
	}{
		{"90d", 90 * day},
		{"1d", day},
		{"007d", 7 * day},
		{"0d", 0},
		{"0", 0},
		{"36h", 36 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"100000d", 100000 * day},
	}
	for _, tt := range valid {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLifetime(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseLifetime(%q) = %s, %v; want %s, nil", tt.in, got, err, tt.want)
			}
		})
	}

	invalid := []struct {
		in, want string
	}{
		{"1.5d", "whole number"},
		{".5d", "whole number"},
		{"-3d", "positive"},
		{"-1h", "positive"},
		{"", "write whole days"},
		{"d", "write whole days"},
		{"90", "write whole days"},
		{"2w", "write whole days"},
		{" 90d", "write whole days"},
		{"90d ", "write whole days"},
		{"+1d", "write whole days"},
		{"9e3d", "write whole days"},
		{"1.2.3d", "write whole days"},
		{"0x10d", "write whole days"},
		{"1dd", "write whole days"},
		{"100001d", "at most 100000 days"},
		{"99999999999999999999999d", "at most 100000 days"},
		{"9999999999h", "write whole days"},
	}
	for _, tt := range invalid {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLifetime(tt.in)
			if err == nil {
				t.Fatalf("ParseLifetime(%q) = %s, nil; want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "'"+tt.in+"'") {
				t.Errorf("ParseLifetime(%q) error = %q, want it to quote the value and contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func FuzzParseLifetime(f *testing.F) {
	for _, s := range []string{"90d", "0", "36h", "1.5d", "-3d", "1h30m", "100001d", "d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseLifetime(s)
		if err != nil {
			if d != 0 {
				t.Errorf("ParseLifetime(%q) = %s with an error, want 0", s, d)
			}
			return
		}
		if d < 0 {
			t.Errorf("ParseLifetime(%q) = %s, want a lifetime of at least 0", s, d)
		}
		if strings.HasSuffix(s, "d") && d%(24*time.Hour) != 0 {
			t.Errorf("ParseLifetime(%q) = %s, want whole days", s, d)
		}
	})
}

func TestFormatLifetime(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{90 * 24 * time.Hour, "90d"},
		{36 * time.Hour, "36h0m0s"},
		{0, "0s"},
	}
	for _, tt := range tests {
		if got := formatLifetime(tt.in); got != tt.want {
			t.Errorf("formatLifetime(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		name, rate, burst string
		want              *policy.RateLimit
		defaulted         bool
	}{
		{"none", "", "", nil, false},
		{"both", "20/s", "40", &policy.RateLimit{Rate: "20/s", Burst: 40}, false},
		{"default burst per second", "20/s", "", &policy.RateLimit{Rate: "20/s", Burst: 20}, true},
		{"default burst per minute", "100/m", "", &policy.RateLimit{Rate: "100/m", Burst: 100}, true},
		// A fraction rounds up, and never below 1.
		{"default burst fraction", "2.5/h", "", &policy.RateLimit{Rate: "2.5/h", Burst: 3}, true},
		{"default burst below one", "0.5/s", "", &policy.RateLimit{Rate: "0.5/s", Burst: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, defaulted, err := parseRateLimit(tt.rate, tt.burst)
			if err != nil {
				t.Fatalf("parseRateLimit(%q, %q) error: %v", tt.rate, tt.burst, err)
			}
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want || defaulted != tt.defaulted {
				t.Errorf("parseRateLimit(%q, %q) = %v, %v; want %v, %v", tt.rate, tt.burst, got, defaulted, tt.want, tt.defaulted)
			}
		})
	}
}

func TestParseRateLimitRejects(t *testing.T) {
	tests := []struct {
		name, rate, burst string
		want              []string
	}{
		{"burst without rate", "", "40", []string{"--burst '40'", "--rate 20/s --burst 40"}},
		{"rate without unit", "20", "", []string{"--rate", "'20'", "for example 20/s"}},
		{"rate with bad unit", "20/d", "", []string{"--rate", "'20/d'", "s, m or h"}},
		{"NaN rate", "NaN/s", "", []string{"--rate", "'NaN/s'", "positive number"}},
		{"negative rate", "-1/s", "", []string{"--rate", "'-1/s'"}},
		{"zero burst", "20/s", "0", []string{"--burst", "'0'", "from 1 to"}},
		{"negative burst", "20/s", "-5", []string{"--burst", "'-5'"}},
		{"fractional burst", "20/s", "1.5", []string{"--burst", "'1.5'"}},
		{"huge burst", "20/s", "1000000001", []string{"--burst", "'1000000001'"}},
		{"text burst", "20/s", "many", []string{"--burst", "'many'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseRateLimit(tt.rate, tt.burst)
			if err == nil {
				t.Fatalf("parseRateLimit(%q, %q) = nil error, want an error", tt.rate, tt.burst)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("parseRateLimit(%q, %q) error = %q, want it to contain %q", tt.rate, tt.burst, err, w)
				}
			}
		})
	}
}

func TestCheckText(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // empty: accepted
	}{
		{"plain", "platform team", ""},
		{"non-ASCII", "équipe plateforme ✓", ""},
		{"replacement character", "a\uFFFDb", ""},
		{"empty", "", ""},
		{"newline", "a\nb", "U+000A"},
		{"tab", "a\tb", "U+0009"},
		{"escape sequence", "\x1b[31mred", "U+001B"},
		{"delete", "a\x7f", "U+007F"},
		{"C1 control", "a\u0085b", "U+0085"},
		{"line separator", "a\u2028b", "U+2028"},
		{"invalid UTF-8", "a\xffb", "not valid UTF-8"},
		{"too long", strings.Repeat("x", maxTextLength+1), "at most 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkText("--owner", tt.in)
			if tt.want == "" {
				if err != nil {
					t.Errorf("checkText(%q) = %v, want nil", tt.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "--owner: ") {
				t.Errorf("checkText(%q) = %v, want an --owner error containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestFlagDefaultsParse(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{DefaultExpiresIn, 90 * 24 * time.Hour},
		{DefaultGrace, 24 * time.Hour},
	}
	for _, tt := range tests {
		if got, err := ParseLifetime(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseLifetime(%q) = %s, %v; want %s, nil", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseRateLimit(f *testing.F) {
	for _, seed := range [][2]string{{"20/s", ""}, {"20/s", "40"}, {"0.5/s", ""}, {"", "5"}, {"1e9/h", ""}, {"20/s", "-1"}, {"NaN/s", ""}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, rate, burst string) {
		rl, _, err := parseRateLimit(rate, burst)
		if err != nil || rl == nil {
			return
		}
		if rl.Burst < 1 || rl.Burst > maxBurst {
			t.Errorf("parseRateLimit(%q, %q) burst = %d, want 1 to %d", rate, burst, rl.Burst, maxBurst)
		}
		if _, err := rl.PerSecond(); err != nil {
			t.Errorf("parseRateLimit(%q, %q) accepted a rate that PerSecond rejects: %v", rate, burst, err)
		}
	})
}
