package signedurl

import (
	"bytes"
	"slices"
	"strings"

	"github.com/awra/awragate/policy"
)

// stackParams is the number of query parameters parsed and sorted without
// allocating. A longer query still works, on the heap.
const stackParams = 32

const upperHex = "0123456789ABCDEF"

// param is one non-empty '&'-separated piece of a raw query, as offsets
// into that query. eq is the offset of the first '=', or end when the piece
// has none.
type param struct {
	start, eq, end int
}

// entry is one parameter of the canonical query, re-encoded into a scratch
// buffer: the name is scratch[lo:mid] and the value scratch[mid:hi].
type entry struct {
	lo, mid, hi int32
}

// fault is a parse failure: a reason code and the byte offset of the
// offending character in the path or query, for the signer's error message.
type fault struct {
	reason policy.Reason
	offset int
}

// query is a parsed raw query. keyID, expires and signature index params,
// or are -1 when the parameter is absent. The raw query itself is kept out
// of this struct: escape analysis does not tell fields apart, and a string
// field here would move the caller's stack array of params to the heap.
type query struct {
	params                    []param
	keyID, expires, signature int
	duplicated                bool
}

func (p param) name(raw string) string  { return raw[p.start:p.eq] }
func (p param) value(raw string) string { return raw[min(p.eq+1, p.end):p.end] }

// unreserved and querySpecial are byte tables for the hot loops: the RFC
// 3986 unreserved characters, and the bytes parseQuery must look at.
var unreserved, querySpecial [256]bool

func init() {
	for c := 0; c < 256; c++ {
		unreserved[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
		querySpecial[c] = c == '&' || c == '=' || c == '%' || c == ';' || mustEscape(byte(c))
	}
}

func isUnreserved(c byte) bool { return unreserved[c] }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// mustEscape reports whether c is a space, an ASCII control character or
// '#'. RFC 3986 allows none of them raw in a path or query, and Go's HTTP
// server rejects control characters in the request target. A raw '#'
// passes Go's server, but an upstream that parses the target as a URL
// cuts the query there and drops the signed parameters after it.
func mustEscape(c byte) bool {
	return c <= ' ' || c == 0x7f || c == '#'
}

// checkPath returns the first malformed percent-escape or raw byte that
// must be escaped in rawPath.
func checkPath(rawPath string) fault {
	for i := 0; i < len(rawPath); i++ {
		c := rawPath[i]
		if mustEscape(c) {
			return fault{ReasonURLEscapeMalformed, i}
		}
		if c == '%' {
			if i+2 >= len(rawPath) || !isHex(rawPath[i+1]) || !isHex(rawPath[i+2]) {
				return fault{ReasonURLEscapeMalformed, i}
			}
			i += 2
		}
	}
	return fault{}
}

// parseQuery splits raw into its non-empty pieces, appending them to buf,
// and finds the control parameters. It stops at the first ';', malformed
// escape, raw space or control character. A repeated control parameter is reported in
// q.duplicated, so that the syntax faults above take precedence.
func parseQuery(raw string, buf []param) (query, fault) {
	// The params slice stays in a local variable until the end: appending
	// through a pointer to q would move the caller's stack buffer to the
	// heap.
	q := query{keyID: -1, expires: -1, signature: -1}
	params := buf[:0]
	start, eq := 0, -1
	for i := 0; i <= len(raw); i++ {
		for i < len(raw) && !querySpecial[raw[i]] {
			i++
		}
		if i < len(raw) {
			switch c := raw[i]; c {
			case '&':
			case '=':
				if eq < 0 {
					eq = i
				}
				continue
			case '%':
				if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
					return q, fault{ReasonURLEscapeMalformed, i}
				}
				i += 2
				continue
			case ';':
				return q, fault{ReasonURLQuerySemicolon, i}
			default:
				return q, fault{ReasonURLEscapeMalformed, i}
			}
		}

		// raw[start:i] is a piece. Empty pieces are skipped.
		if i > start {
			if eq < 0 {
				eq = i
			}
			p := param{start: start, eq: eq, end: i}
			q.classify(p.name(raw), len(params))
			params = append(params, p)
		}
		start, eq = i+1, -1
	}
	q.params = params
	return q, fault{}
}

// classify records the piece with index i and the given raw name if it is
// a control parameter.
func (q *query) classify(name string, i int) {
	var slot *int
	switch {
	case decodedEquals(name, ParamSignature):
		slot = &q.signature
	case decodedEquals(name, ParamExpires):
		slot = &q.expires
	case decodedEquals(name, ParamKeyID):
		slot = &q.keyID
	default:
		return
	}
	if *slot >= 0 {
		q.duplicated = true
		return
	}
	*slot = i
}

// decodedEquals reports whether the percent-decoded form of raw equals
// want. raw has valid escapes. '+' is not decoded.
func decodedEquals(raw, want string) bool {
	if raw == want {
		return true
	}
	if len(raw) < len(want) || strings.IndexByte(raw, '%') < 0 {
		return false
	}
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		}
		if j >= len(want) || want[j] != c {
			return false
		}
		j++
	}
	return j == len(want)
}

// appendDecoded appends the percent-decoded form of raw, which has valid
// escapes, to dst.
func appendDecoded(dst []byte, raw string) []byte {
	if strings.IndexByte(raw, '%') < 0 {
		return append(dst, raw...)
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		}
		dst = append(dst, c)
	}
	return dst
}

// appendQueryComponent appends raw, a name or value with valid escapes,
// decoded and re-encoded in canonical form.
func appendQueryComponent(dst []byte, raw string) []byte {
	i := 0
	for i < len(raw) && unreserved[raw[i]] {
		i++
	}
	dst = append(dst, raw[:i]...)

	for ; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		}
		if isUnreserved(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

// appendPath appends the canonical form of rawPath, which has valid
// escapes: escapes of unreserved characters decoded, all other escapes in
// upper-case hex, every other byte as sent.
func appendPath(dst []byte, rawPath string) []byte {
	if rawPath == "" {
		return append(dst, '/')
	}
	if strings.IndexByte(rawPath, '%') < 0 {
		return append(dst, rawPath...)
	}
	for i := 0; i < len(rawPath); i++ {
		c := rawPath[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		c = unhex(rawPath[i+1])<<4 | unhex(rawPath[i+2])
		i += 2
		if isUnreserved(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

// appendHost appends host in ASCII lower-case, without the port when it is
// the default port of scheme.
func appendHost(dst []byte, scheme, host string) []byte {
	switch {
	case strings.EqualFold(scheme, "https"):
		host = strings.TrimSuffix(host, ":443")
	case strings.EqualFold(scheme, "http"):
		host = strings.TrimSuffix(host, ":80")
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func appendUpper(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendCanonical appends the canonical string of a request to dst. The
// path and query must have passed checkPath and parseQuery, which gave q. scratch is
// working space for the re-encoded parameters; both buffers are returned
// so the caller can keep their grown capacity.
func appendCanonical(dst, scratch []byte, method, scheme, host, rawPath, rawQuery string, q *query) ([]byte, []byte) {
	dst = append(dst, Algorithm...)
	dst = append(dst, '\n')
	dst = appendUpper(dst, method)
	dst = append(dst, '\n')
	dst = appendHost(dst, scheme, host)
	dst = append(dst, '\n')
	dst = appendPath(dst, rawPath)
	dst = append(dst, '\n')

	// Re-encode every parameter except the signature into scratch, then
	// sort the entries by encoded name and value.
	var stack [stackParams]entry
	entries := stack[:0]
	scratch = scratch[:0]
	for i, p := range q.params {
		if i == q.signature || decodedEquals(p.name(rawQuery), ParamSignature) {
			continue
		}
		lo := len(scratch)
		scratch = appendQueryComponent(scratch, p.name(rawQuery))
		mid := len(scratch)
		scratch = appendQueryComponent(scratch, p.value(rawQuery))
		entries = append(entries, entry{int32(lo), int32(mid), int32(len(scratch))})
	}
	sortEntries(entries, scratch)

	for i, e := range entries {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, scratch[e.lo:e.mid]...)
		dst = append(dst, '=')
		dst = append(dst, scratch[e.mid:e.hi]...)
	}
	return dst, scratch
}

func compareEntries(a, b entry, scratch []byte) int {
	if c := bytes.Compare(scratch[a.lo:a.mid], scratch[b.lo:b.mid]); c != 0 {
		return c
	}
	return bytes.Compare(scratch[a.mid:a.hi], scratch[b.mid:b.hi])
}

// sortEntries sorts by encoded name, then encoded value. Short lists use an
// insertion sort because it needs no closure and so no allocation. Long
// lists use slices.SortFunc to stay O(n log n) on hostile queries.
func sortEntries(entries []entry, scratch []byte) {
	if len(entries) > stackParams {
		slices.SortFunc(entries, func(a, b entry) int { return compareEntries(a, b, scratch) })
		return
	}
	for i := 1; i < len(entries); i++ {
		for j := i; j > 0 && compareEntries(entries[j], entries[j-1], scratch) < 0; j-- {
			entries[j], entries[j-1] = entries[j-1], entries[j]
		}
	}
}
