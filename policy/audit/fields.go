package audit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/awra/awragate/policy"
)

// FieldNames lists the stream entry fields of an event in their fixed
// order. Every entry written by this package has exactly these fields, each
// a flat string.
var FieldNames = [...]string{
	"v", "ts", "instance", "seq", "request_id", "module", "decision", "reason",
	"status", "key_id", "client_ip", "peer_ip", "method", "host", "path",
	"scopes", "provider", "latency_us", "detail", "prev_hash", "hash",
}

// Indexes into FieldNames and into the value arrays built from it.
const (
	fieldV = iota
	fieldTS
	fieldInstance
	fieldSeq
	fieldRequestID
	fieldModule
	fieldDecision
	fieldReason
	fieldStatus
	fieldKeyID
	fieldClientIP
	fieldPeerIP
	fieldMethod
	fieldHost
	fieldPath
	fieldScopes
	fieldProvider
	fieldLatencyUS
	fieldDetail
	fieldPrevHash
	fieldHash

	numFields
)

// canonicalFields is the number of leading fields covered by the canonical
// form: all but prev_hash and hash.
const canonicalFields = fieldPrevHash

// hashLen is the length of a hex HMAC-SHA256.
const hashLen = 64

// fieldValues holds an event's fields as stream strings, in FieldNames
// order.
type fieldValues [numFields]string

// values returns the event's fields as the strings written to the stream.
// The writer makes them valid UTF-8 first (see sanitize), so that JSON
// exports keep every byte.
func (e *Event) values() fieldValues {
	var v fieldValues
	// The numbers share a new buffer that nothing writes to again.
	e.sharedValues(&v, nil)
	return v
}

// sharedValues fills v as values does, except that the numbers and the
// time are formatted into scratch, which it returns, instead of into new
// strings. Those strings share scratch's memory, so v is valid only until
// scratch is written again. The writer, which formats one event at a
// time, uses it to spare the allocations.
func (e *Event) sharedValues(v *fieldValues, scratch []byte) []byte {
	// A string made here stays valid if a later append moves scratch: it
	// keeps the old array, which nothing writes to again.
	scratch = scratch[:0]
	mark := 0
	next := func() string {
		s := unsafe.String(unsafe.SliceData(scratch[mark:]), len(scratch)-mark)
		mark = len(scratch)
		return s
	}

	scratch = strconv.AppendInt(scratch, int64(e.V), 10)
	v[fieldV] = next()
	scratch = e.TS.UTC().AppendFormat(scratch, time.RFC3339Nano)
	v[fieldTS] = next()
	scratch = strconv.AppendUint(scratch, e.Seq, 10)
	v[fieldSeq] = next()
	scratch = strconv.AppendInt(scratch, int64(e.Status), 10)
	v[fieldStatus] = next()
	scratch = strconv.AppendInt(scratch, e.LatencyUS, 10)
	v[fieldLatencyUS] = next()
	e.fillStrings(v)
	return scratch
}

// fillStrings copies the event's string fields into v.
func (e *Event) fillStrings(v *fieldValues) {
	v[fieldInstance] = e.Instance
	v[fieldRequestID] = e.RequestID
	v[fieldModule] = string(e.Module)
	v[fieldDecision] = string(e.Decision)
	v[fieldReason] = string(e.Reason)
	v[fieldKeyID] = e.KeyID
	v[fieldClientIP] = e.ClientIP
	v[fieldPeerIP] = e.PeerIP
	v[fieldMethod] = e.Method
	v[fieldHost] = e.Host
	v[fieldPath] = e.Path
	v[fieldScopes] = e.Scopes
	v[fieldProvider] = e.Provider
	v[fieldDetail] = e.Detail
	v[fieldPrevHash] = e.PrevHash
	v[fieldHash] = e.Hash
}

// Fields returns the event as the flat string fields of a stream entry,
// keyed by the names in FieldNames.
func (e *Event) Fields() map[string]string {
	v := e.values()
	m := make(map[string]string, numFields)
	for i, name := range FieldNames {
		m[name] = v[i]
	}
	return m
}

// ParseFields decodes the fields of a stream entry. It is strict, because
// Verify hashes the decoded event: every field of FieldNames must be
// present, no other field may be, and numbers, the timestamp and the hashes
// must be in exactly the form this package writes. So an entry that parses
// re-encodes to the same strings, and a change to any byte either fails
// here or changes the hash.
func ParseFields(fields map[string]string) (Event, error) {
	var v fieldValues
	for i, name := range FieldNames {
		value, ok := fields[name]
		if !ok {
			return Event{}, fmt.Errorf("field '%s' is missing", name)
		}
		if !utf8.ValidString(value) {
			return Event{}, fmt.Errorf("field '%s' is not valid UTF-8", name)
		}
		v[i] = value
	}
	if len(fields) != numFields {
		for name := range fields {
			if fieldIndex(name) < 0 {
				return Event{}, fmt.Errorf("unexpected field '%s': not part of schema version %d", truncate(name), SchemaVersion)
			}
		}
	}
	return parseValues(&v)
}

// parseValues decodes field strings in FieldNames order.
func parseValues(v *fieldValues) (Event, error) {
	var e Event
	var err error

	if v[fieldV] != strconv.Itoa(SchemaVersion) {
		return Event{}, fmt.Errorf("invalid field 'v' '%s': expected schema version %d", truncate(v[fieldV]), SchemaVersion)
	}
	e.V = SchemaVersion

	e.TS, err = time.Parse(time.RFC3339Nano, v[fieldTS])
	if err != nil || e.TS.Location() != time.UTC || e.TS.Format(time.RFC3339Nano) != v[fieldTS] {
		return Event{}, fmt.Errorf("invalid field 'ts' '%s': expected RFC 3339 UTC like '2006-01-02T15:04:05.999999999Z'", truncate(v[fieldTS]))
	}

	if e.Seq, err = parseCanonicalUint(v[fieldSeq]); err != nil || e.Seq == 0 {
		return Event{}, fmt.Errorf("invalid field 'seq' '%s': expected a decimal number from 1", truncate(v[fieldSeq]))
	}

	status, err := parseCanonicalUint(v[fieldStatus])
	if err != nil || status > 999 {
		return Event{}, fmt.Errorf("invalid field 'status' '%s': expected a decimal number from 0 to 999", truncate(v[fieldStatus]))
	}
	e.Status = int(status)

	latency, err := parseCanonicalUint(v[fieldLatencyUS])
	if err != nil || latency > 1<<63-1 {
		return Event{}, fmt.Errorf("invalid field 'latency_us' '%s': expected a decimal number from 0", truncate(v[fieldLatencyUS]))
	}
	e.LatencyUS = int64(latency)

	switch Decision(v[fieldDecision]) {
	case DecisionAllow, DecisionDeny:
		e.Decision = Decision(v[fieldDecision])
	default:
		return Event{}, fmt.Errorf("invalid field 'decision' '%s': expected 'allow' or 'deny'", truncate(v[fieldDecision]))
	}

	if v[fieldInstance] == "" {
		return Event{}, errors.New("field 'instance' is empty")
	}
	if v[fieldModule] == "" {
		return Event{}, errors.New("field 'module' is empty")
	}
	if p := v[fieldPrevHash]; p != "" && !isLowerHex(p, hashLen) {
		return Event{}, fmt.Errorf("invalid field 'prev_hash' '%s': expected empty or %d lower-case hex digits", truncate(p), hashLen)
	}
	if h := v[fieldHash]; !isLowerHex(h, hashLen) {
		return Event{}, fmt.Errorf("invalid field 'hash' '%s': expected %d lower-case hex digits", truncate(h), hashLen)
	}

	e.Instance = v[fieldInstance]
	e.RequestID = v[fieldRequestID]
	e.Module = Module(v[fieldModule])
	e.Reason = policy.Reason(v[fieldReason])
	e.KeyID = v[fieldKeyID]
	e.ClientIP = v[fieldClientIP]
	e.PeerIP = v[fieldPeerIP]
	e.Method = v[fieldMethod]
	e.Host = v[fieldHost]
	e.Path = v[fieldPath]
	e.Scopes = v[fieldScopes]
	e.Provider = v[fieldProvider]
	e.Detail = v[fieldDetail]
	e.PrevHash = v[fieldPrevHash]
	e.Hash = v[fieldHash]
	return e, nil
}

// parseCanonicalUint parses a decimal number written without sign or
// leading zeros, as strconv.FormatUint writes it.
func parseCanonicalUint(s string) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("not a canonical decimal")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a canonical decimal")
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func fieldIndex(name string) int {
	for i, n := range FieldNames {
		if n == name {
			return i
		}
	}
	return -1
}

// truncate makes untrusted text safe to quote in an error message: it
// escapes control characters and invalid UTF-8 and keeps at most 64 bytes.
func truncate(s string) string {
	const max = 64
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

// sanitize makes a handler-filled event fit the schema before it is
// hashed. Invalid UTF-8 becomes U+FFFD, so that the stored event, its hash
// and a JSON export agree. A decision other than allow or deny is stored as
// deny with the original noted in Detail, and an empty module as
// "unknown", so that ParseFields accepts every event the writer stores.
func (e *Event) sanitize() {
	if e.Decision != DecisionAllow && e.Decision != DecisionDeny {
		e.Detail = strings.TrimSpace(e.Detail + " invalid decision '" + string(e.Decision) + "'")
		e.Decision = DecisionDeny
	}
	if e.Module == "" {
		e.Module = ModuleUnknown
	}
	fields := [...]*string{
		&e.RequestID, &e.KeyID, &e.ClientIP, &e.PeerIP, &e.Method, &e.Host,
		&e.Path, &e.Scopes, &e.Provider, &e.Detail,
		(*string)(&e.Module), (*string)(&e.Decision), (*string)(&e.Reason),
	}
	// Almost every event is ASCII, which one pass over all fields shows.
	var bits byte
	for _, f := range fields {
		for i := 0; i < len(*f); i++ {
			bits |= (*f)[i]
		}
	}
	if bits < utf8.RuneSelf {
		return
	}
	for _, f := range fields {
		if !utf8.ValidString(*f) {
			*f = strings.ToValidUTF8(*f, "\uFFFD")
		}
	}
}
