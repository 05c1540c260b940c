package webhook

import (
	"fmt"
	"strconv"
	"time"

	"github.com/awra/awragate/policy"
)

// timestampKind classifies the text of a timestamp header or field.
type timestampKind int

const (
	// timestampMalformed is anything but 10 or 13 ASCII digits: signs,
	// decimals, spaces, other lengths.
	timestampMalformed timestampKind = iota
	// timestampSeconds is exactly 10 digits of Unix seconds, which covers
	// September 2001 to November 2286.
	timestampSeconds
	// timestampMilliseconds is 13 digits, a common sender bug. It is
	// recognised so that the rejection detail can name the fix.
	timestampMilliseconds
)

const (
	detailMilliseconds = "the timestamp is in milliseconds: send Unix seconds (10 digits)"
	timestampFormat    = "10 digits of Unix seconds"
)

// parseTimestamp reads 10 digits as Unix seconds and 13 digits as Unix
// milliseconds. Any other text is timestampMalformed.
func parseTimestamp(s string) (int64, timestampKind) {
	if len(s) != 10 && len(s) != 13 {
		return 0, timestampMalformed
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, timestampMalformed
		}
		n = n*10 + int64(c-'0')
	}
	if len(s) == 13 {
		return n, timestampMilliseconds
	}
	return n, timestampSeconds
}

// checkTimestamp returns the signed send time and a rejection when it is
// in milliseconds or more than tolerance away from now in either
// direction. Callers run it only after the signature matched, so this
// rejection reaches only senders that hold a secret.
func checkTimestamp(now time.Time, value int64, kind timestampKind, tolerance time.Duration, windowDetail string) (time.Time, Result) {
	if kind == timestampMilliseconds {
		at := time.UnixMilli(value)
		r := deny(policy.ReasonTimestampOutOfTolerance, detailMilliseconds)
		r.Timestamp = at
		return at, r
	}

	// Comparing instants, not now.Sub(at), avoids the saturation of
	// time.Duration: with a zero now the difference overflows and its
	// absolute value would pass.
	at := time.Unix(value, 0)
	if at.Before(now.Add(-tolerance)) || at.After(now.Add(tolerance)) {
		r := deny(policy.ReasonTimestampOutOfTolerance, windowDetail)
		r.Timestamp = at
		return at, r
	}
	return at, Result{}
}

// windowDetail is the public text of an out-of-window rejection.
func windowDetail(tolerance time.Duration) string {
	return "the timestamp is more than " + tolerance.String() + " away from the gateway clock"
}

// formatTimestamp writes now as 10 digits of Unix seconds, for signing.
func formatTimestamp(now time.Time) (string, error) {
	s := strconv.FormatInt(now.Unix(), 10)
	if len(s) != 10 || now.Unix() < 0 {
		return "", fmt.Errorf("signing time '%s' is outside the range of 10-digit Unix seconds: use a time from 2001-09-09 to 2286-11-20", now.UTC().Format(time.RFC3339))
	}
	return s, nil
}
