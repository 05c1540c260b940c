package ratelimit

import (
	"math"
	"strconv"
)

// Response field names from the IETF httpapi draft "RateLimit header
// fields for HTTP" (draft-ietf-httpapi-ratelimit-headers-10), in the
// canonical form of net/http.
const (
	PolicyHeader = "Ratelimit-Policy"
	StatusHeader = "Ratelimit"
)

// PolicyName names the quota policy in both fields. Every key has one
// policy, so the name is the same for all keys.
const PolicyName = "api-key"

// PolicyValue returns the RateLimit-Policy field for l, a Structured Field
// list with one item: the policy name with q, the burst, and w, the
// seconds the bucket needs to refill the whole burst, rounded up and at
// least 1. Example: 10/s with burst 20 gives `"api-key";q=20;w=2`.
func PolicyValue(l Limit) string {
	window := 1
	if l.PerSecond > 0 {
		w := math.Ceil(float64(l.Burst) / l.PerSecond)
		window = int(math.Min(math.Max(w, 1), math.MaxInt32))
	}
	b := make([]byte, 0, 32)
	b = append(b, '"')
	b = append(b, PolicyName...)
	b = append(b, `";q=`...)
	b = strconv.AppendInt(b, int64(l.Burst), 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, int64(window), 10)
	return string(b)
}

// StatusValue returns the RateLimit field for res: the policy name with r,
// the requests the bucket admits right now, and t, the seconds until it
// admits one more, rounded up. A full bucket gets no t, as the draft
// allows. Examples: `"api-key";r=7;t=1` and `"api-key";r=10`. Values with
// small r and t come from a table built once, so that the common case
// does not allocate.
func StatusValue(res Result) string {
	remaining := max(0, res.Remaining)
	reset := ceilSeconds(res.ResetAfter, 0)
	if remaining < len(statusTable) && reset < len(statusTable[0]) {
		return statusTable[remaining][reset]
	}
	return formatStatus(remaining, reset)
}

// statusTable holds the RateLimit values of r below 65 and t below 16:
// bursts up to 64 whose next request comes within 15 seconds. By an
// estimate of its string headers and bytes it takes about 40 KiB.
var statusTable = func() (table [65][16]string) {
	for r := range table {
		for t := range table[r] {
			table[r][t] = formatStatus(r, t)
		}
	}
	return table
}()

// formatStatus writes the RateLimit value of remaining and reset seconds,
// without t when reset is zero.
func formatStatus(remaining, reset int) string {
	var buf [48]byte
	b := append(buf[:0], '"')
	b = append(b, PolicyName...)
	b = append(b, `";r=`...)
	b = strconv.AppendInt(b, int64(remaining), 10)
	if reset > 0 {
		b = append(b, ";t="...)
		b = strconv.AppendInt(b, int64(reset), 10)
	}
	return string(b)
}
