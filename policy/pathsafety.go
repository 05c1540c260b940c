package policy

import "strings"

// Path safety: the path a check authorized must be the path the upstream
// serves. Proxies, frameworks and file servers disagree about dot segments,
// encoded separators, backslashes and path parameters, and each
// disagreement lets a request match one route here and reach another
// resource upstream. CheckPath therefore rejects every path that more than
// one reasonable server could read differently:
//
//   - a dot segment ("." or ".."), raw or percent-encoded in any case, at
//     any level of repeated encoding ("%2e", "%252E");
//   - an encoded slash or backslash ("%2F", "%5C", "%252F", ...);
//   - a backslash, raw or encoded;
//   - a NUL, raw or encoded, or any other ASCII control character;
//   - a ';', raw or encoded, which some servers treat as a path parameter;
//   - a raw '#', which clients never send and URL parsers read as the
//     start of a fragment;
//   - a '#' or '?' percent-encoded twice or more ("%2523", "%253F"),
//     because a server that decodes twice would end the path there;
//   - an overlong UTF-8 sequence, raw or encoded ("%C0%AE"), which lenient
//     decoders read as the ASCII character it spells, such as '.' or '/';
//   - a malformed percent escape, including the non-standard "%uXXXX" form
//     at any level of encoding, or escapes nested more than maxDecodeDepth
//     levels deep.

// maxDecodeDepth bounds repeated decoding. A path still holding escapes
// after this many rounds has no honest use.
const maxDecodeDepth = 4

// PathProblem names why CheckPath rejected a path. The text is safe to show
// to clients.
type PathProblem string

const (
	PathOK              PathProblem = ""
	PathDotSegment      PathProblem = "the path contains a dot segment ('.' or '..'), raw or percent-encoded"
	PathEncodedSlash    PathProblem = "the path contains an encoded slash or backslash"
	PathBackslash       PathProblem = "the path contains a backslash"
	PathControl         PathProblem = "the path contains a NUL or another control character"
	PathSemicolon       PathProblem = "the path contains a ';'"
	PathFragment        PathProblem = "the path contains a raw '#', which starts a fragment for servers that parse it as a URL"
	PathMalformedEscape PathProblem = "the path contains a malformed percent escape"
	PathEncodedDelim    PathProblem = "the path contains a '#' or '?' percent-encoded more than once"
	PathOverlongUTF8    PathProblem = "the path contains an overlong UTF-8 sequence"
	PathDeepEncoding    PathProblem = "the path is percent-encoded too many times"
	PathNotAbsolute     PathProblem = "the path does not start with '/'"
)

// CheckPath inspects an escaped request path (without the query) and
// returns PathOK when it is unambiguous. A path without '%' or '.' is
// checked in one pass without allocating.
func CheckPath(escaped string) PathProblem {
	if escaped == "" || escaped[0] != '/' {
		if escaped == "*" {
			return PathOK // OPTIONS * is not a path to a resource
		}
		return PathNotAbsolute
	}

	// A dot segment starts right after a '/', so a path without "/." and
	// without escapes has none, and most paths end here.
	hasEscape, hasDot, hasHigh := false, false, false
	for i := 0; i < len(escaped); i++ {
		switch c := escaped[i]; {
		case c >= 0x80:
			hasHigh = true
		case c == '\\':
			return PathBackslash
		case c == ';':
			return PathSemicolon
		case c == '#':
			return PathFragment
		case c < 0x20 || c == 0x7f:
			return PathControl
		case c == '%':
			hasEscape = true
		case c == '.':
			hasDot = hasDot || escaped[i-1] == '/' // escaped[0] is '/'
		}
	}
	if hasHigh && hasOverlongUTF8(escaped) {
		return PathOverlongUTF8
	}
	if !hasEscape && !hasDot {
		return PathOK
	}

	for seg := range strings.SplitSeq(escaped[1:], "/") {
		if seg == "." || seg == ".." {
			return PathDotSegment
		}
		if hasEscape && strings.IndexByte(seg, '%') >= 0 {
			if p := checkEncodedSegment(seg); p != PathOK {
				return p
			}
		}
	}
	return PathOK
}

// checkEncodedSegment decodes one segment repeatedly and rejects it when a
// layer reveals a separator, a dangerous character or a dot segment.
func checkEncodedSegment(seg string) PathProblem {
	cur := seg
	for depth := 0; ; depth++ {
		// The raw path must be well formed. A '%' that a decoded layer
		// shows without two hex digits after it is a literal percent sign,
		// but lenient decoders still decode the escapes around it, so the
		// layers below are decoded the same way and checked.
		decoded, changed, ok := unescapeOnce(cur, depth > 0)
		if !ok {
			return PathMalformedEscape
		}
		if !changed {
			return PathOK
		}
		if depth >= maxDecodeDepth {
			return PathDeepEncoding
		}

		for i := 0; i < len(decoded); i++ {
			switch c := decoded[i]; {
			case c == '/':
				return PathEncodedSlash
			case c == '\\':
				return PathEncodedSlash
			case c == ';':
				return PathSemicolon
			case c < 0x20 || c == 0x7f:
				return PathControl
			}
		}
		if decoded == "." || decoded == ".." {
			return PathDotSegment
		}
		if hasOverlongUTF8(decoded) {
			return PathOverlongUTF8
		}
		// A '#' or '?' from the first decoding is part of a name. One that
		// only a later decoding reveals would end the path for a server
		// that decodes twice.
		if depth > 0 && countDelims(decoded) > countDelims(cur) {
			return PathEncodedDelim
		}
		if hasUnicodeEscape(decoded) {
			return PathMalformedEscape
		}
		cur = decoded
	}
}

// hasOverlongUTF8 reports whether s contains the lead of an overlong UTF-8
// sequence: 0xC0 or 0xC1, 0xE0 followed by 0x80 to 0x9F, or 0xF0 followed
// by 0x80 to 0x8F. Valid UTF-8 contains none of them.
func hasOverlongUTF8(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0xc0 || c == 0xc1:
			return true
		case c == 0xe0 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] < 0xa0:
			return true
		case c == 0xf0 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] < 0x90:
			return true
		}
	}
	return false
}

// countDelims counts the '#' and '?' in s.
func countDelims(s string) int {
	return strings.Count(s, "#") + strings.Count(s, "?")
}

// hasUnicodeEscape reports whether s contains a "%uXXXX" escape, which some
// servers decode as a UTF-16 code unit.
func hasUnicodeEscape(s string) bool {
	for i := 0; i+5 < len(s); i++ {
		if s[i] == '%' && (s[i+1] == 'u' || s[i+1] == 'U') &&
			isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]) {
			return true
		}
	}
	return false
}

// UnescapeLeniently decodes every valid %XX escape of s once and keeps any
// other '%', and '+', as they are, as lenient decoders in web frameworks do.
func UnescapeLeniently(s string) string {
	out, _, _ := unescapeOnce(s, true)
	return out
}

// unescapeOnce decodes every %XX escape of s once. A '%' without two hex
// digits after it makes ok false, or with lenient is kept as it is.
func unescapeOnce(s string, lenient bool) (out string, changed, ok bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, false, true
	}
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			buf = append(buf, s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			if !lenient {
				return "", false, false
			}
			buf = append(buf, '%')
			continue
		}
		buf = append(buf, unhex(s[i+1])<<4|unhex(s[i+2]))
		changed = true
		i += 2
	}
	return string(buf), changed, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
