package review

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const day = 24 * time.Hour

// maxDays bounds the day count ParseDuration accepts, well below the
// 106,751 days at which a time.Duration overflows.
const maxDays = 100000

// ParseDuration reads a positive duration written as whole days ("30d")
// or as a Go duration ("36h", "90m"), the forms Caddy's own duration
// options accept.
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 64)
		if err != nil || n == 0 || n > maxDays {
			return 0, fmt.Errorf("invalid duration '%s': write whole days from 1 to %d such as 30d, or a duration such as 36h", s, maxDays)
		}
		return time.Duration(n) * day, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid duration '%s': write whole days such as 30d or a positive duration such as 36h", s)
	}
	return d, nil
}

// parseJSONDuration reads a duration as Caddy stores it in JSON: a number
// of nanoseconds, or a string that ParseDuration reads. An absent value
// (empty raw) returns zero.
func parseJSONDuration(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return ParseDuration(s)
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
		return 0, fmt.Errorf("invalid duration %s: use nanoseconds or a string such as \"24h\"", truncateText(string(raw), 40))
	}
	return time.Duration(n), nil
}

// FormatDuration writes d as whole days when it is a whole number of two
// days or more ("30d"), and otherwise as a Go duration without zero
// minutes and seconds ("24h", "90m0s" stays "1h30m").
func FormatDuration(d time.Duration) string {
	if d >= 2*day && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// wholeDays returns d in whole days, rounded toward zero.
func wholeDays(d time.Duration) int {
	return int(d / day)
}

// truncateText shortens untrusted text for a message: control characters
// are escaped and at most max bytes are kept.
func truncateText(s string, max int) string {
	cut := len(s) > max
	if cut {
		s = s[:max]
	}
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	if cut {
		q += "..."
	}
	return q
}
