package keyscli

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/awra/awragate/policy"
)

// maxLifetimeDays bounds the day count that ParseLifetime accepts, well
// below the 106,751 days at which a time.Duration overflows.
const maxLifetimeDays = 100000

// maxBurst bounds --burst, so that a typing slip cannot make a rate limit
// meaningless.
const maxBurst = 1_000_000_000

// maxTextLength bounds --owner, --description and --ip-exception in bytes.
const maxTextLength = 1024

// ParseLifetime reads a lifetime as whole days ("90d") or as a Go duration
// ("36h", "1h30m", "0"). It rejects negative values, fractional days and
// values too large for a time.Duration. Zero is returned as zero: callers
// decide whether it is allowed.
func ParseLifetime(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		return parseDays(s, days)
	}

	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid lifetime '%s': write whole days such as 90d or a duration such as 36h", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid lifetime '%s': use a positive lifetime such as 90d", s)
	}
	return d, nil
}

// parseDays reads the number before the 'd' of a lifetime s.
func parseDays(s, days string) (time.Duration, error) {
	switch {
	case days != "" && strings.Trim(days, "0123456789") == "":
		n, err := strconv.ParseUint(days, 10, 64)
		if err != nil || n > maxLifetimeDays {
			return 0, fmt.Errorf("invalid lifetime '%s': use at most %d days", s, maxLifetimeDays)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	case strings.Count(days, ".") == 1 && strings.Trim(days, "0123456789.") == "" && len(days) > 1:
		return 0, fmt.Errorf("invalid lifetime '%s': days must be a whole number; write hours for part of a day, for example 36h", s)
	case strings.HasPrefix(days, "-"):
		return 0, fmt.Errorf("invalid lifetime '%s': use a positive lifetime such as 90d", s)
	}
	return 0, fmt.Errorf("invalid lifetime '%s': write whole days such as 90d or a duration such as 36h", s)
}

// formatLifetime writes d as whole days when it is a whole number of days,
// and as a Go duration otherwise.
func formatLifetime(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

// parseRateLimit reads --rate and --burst. An empty rate and burst mean no
// per-key limit. Without --burst, the burst is the request count of one
// period of the rate, rounded up: 20/s gives 20, 100/m gives 100 and 0.5/s
// gives 1. The second result reports whether that default was used.
func parseRateLimit(rate, burst string) (*policy.RateLimit, bool, error) {
	if rate == "" {
		if burst != "" {
			return nil, false, fmt.Errorf("--burst '%s' needs --rate: give both, for example --rate 20/s --burst 40", burst)
		}
		return nil, false, nil
	}
	if _, err := policy.ParseRate(rate); err != nil {
		return nil, false, fmt.Errorf("--rate: %w", err)
	}

	if burst == "" {
		count, _, _ := strings.Cut(rate, "/")
		n, _ := strconv.ParseFloat(count, 64)
		return &policy.RateLimit{Rate: rate, Burst: int(math.Max(1, math.Ceil(n)))}, true, nil
	}
	b, err := strconv.Atoi(burst)
	if err != nil || b < 1 || b > maxBurst {
		return nil, false, fmt.Errorf("--burst: invalid value '%s': use a whole number from 1 to %d, the number of requests allowed at once", burst, maxBurst)
	}
	return &policy.RateLimit{Rate: rate, Burst: b}, false, nil
}

// checkText rejects free text that could break the list table or a
// terminal: control characters (newlines, tabs, escape sequences) and
// invalid UTF-8.
func checkText(flag, s string) error {
	if len(s) > maxTextLength {
		return fmt.Errorf("%s: the text is %d bytes long: use at most %d", flag, len(s), maxTextLength)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: the text is not valid UTF-8: use plain text", flag)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%s: the text contains the control character %U: use plain text on one line", flag, r)
		}
	}
	return nil
}

// errMissingFile is returned when neither --file, --redis nor
// AWRA_KEYS_FILE names the key registry.
var errMissingFile = errors.New("missing --file: give the keys file with --file PATH or set the " + FileEnv + " environment variable, or give the fleet registry with --redis URL")
