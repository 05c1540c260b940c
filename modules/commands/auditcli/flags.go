package auditcli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/awra/awragate/policy/audit"
)

// MaxTailCount bounds --count of tail, so that one typing slip cannot pull
// a whole stream of a million entries into memory.
const MaxTailCount = 100_000

// maxBackDays bounds a duration in days, well below the 106,751 days at
// which a time.Duration overflows.
const maxBackDays = 100_000

// ParseTime reads a --since or --until value: an RFC 3339 time
// ("2026-01-02T15:04:05Z", fractional seconds and any offset allowed), or a
// duration back from now, either whole days ("30d") or a Go duration
// ("24h", "90m"). flag names the flag in error messages.
func ParseTime(flag, value string, now time.Time) (time.Time, error) {
	if value == "" {
		return time.Time{}, fmt.Errorf("%s is empty: give an RFC 3339 time such as 2026-01-02T15:04:05Z or a duration back from now such as 24h or 30d", flag)
	}
	if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
		return t.UTC(), nil
	}
	if strings.Contains(value, "T") || strings.Count(value, "-") >= 2 {
		return time.Time{}, fmt.Errorf("%s '%s': invalid time: write RFC 3339 with a time zone, such as 2026-01-02T15:04:05Z", flag, value)
	}

	back, err := parseBack(value)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s '%s': %w", flag, value, err)
	}
	return now.Add(-back).UTC(), nil
}

// parseBack reads a duration back from now: whole days or a Go duration,
// zero or more.
func parseBack(value string) (time.Duration, error) {
	const hint = "write an RFC 3339 time such as 2026-01-02T15:04:05Z or a duration back from now such as 24h or 30d"
	if days, ok := strings.CutSuffix(value, "d"); ok {
		if days == "" || strings.Trim(days, "0123456789") != "" {
			return 0, fmt.Errorf("invalid duration: days must be a whole number; %s", hint)
		}
		n, err := strconv.ParseUint(days, 10, 64)
		if err != nil || n > maxBackDays {
			return 0, fmt.Errorf("invalid duration: use at most %d days", maxBackDays)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}

	d, err := time.ParseDuration(value)
	switch {
	case err != nil:
		return 0, fmt.Errorf("invalid time or duration: %s", hint)
	case d < 0:
		return 0, fmt.Errorf("invalid duration: it counts back from now, so drop the sign, for example 24h")
	}
	return d, nil
}

// ParseCount reads --count of tail: a whole number from 0 to
// MaxTailCount.
func ParseCount(value string) (int, error) {
	n, err := strconv.Atoi(value)
	if err != nil || n < 0 || n > MaxTailCount {
		return 0, fmt.Errorf("--count '%s': invalid count: use a whole number from 0 to %d, for example --count 50", value, MaxTailCount)
	}
	return n, nil
}

// knownModules lists the values of --module.
var knownModules = []audit.Module{
	audit.ModuleAPIKey, audit.ModuleSignedURL, audit.ModuleWebhook,
	audit.ModuleAlert, audit.ModuleAdmin, audit.ModuleAudit, audit.ModuleUnknown,
}

// checkModule validates --module; empty means every module.
func checkModule(value string) error {
	if value == "" {
		return nil
	}
	names := make([]string, len(knownModules))
	for i, m := range knownModules {
		if string(m) == value {
			return nil
		}
		names[i] = string(m)
	}
	return fmt.Errorf("--module '%s': unknown module: use one of %s", value, strings.Join(names, ", "))
}

// checkDecision validates --decision; empty means both.
func checkDecision(value string) error {
	switch audit.Decision(value) {
	case "", audit.DecisionAllow, audit.DecisionDeny:
		return nil
	}
	return fmt.Errorf("--decision '%s': unknown decision: use allow or deny", value)
}
