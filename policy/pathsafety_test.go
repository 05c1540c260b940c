package policy

import (
	"strconv"
	"strings"
	"testing"
)

func TestCheckPath(t *testing.T) {
	tests := []struct {
		path string
		want PathProblem
	}{
		{"/api/inventory/items", PathOK},
		{"/api/inventory/items/42", PathOK},
		{"/", PathOK},
		{"*", PathOK},
		{"/api/inventory/q1%20report.csv", PathOK},
		{"/api/inventory/caf%C3%A9", PathOK},
		{"/api/inventory/.well-known", PathOK},
		{"/api/inventory/...", PathOK},
		{"/api/inventory/a..b", PathOK},
		{"/api/inventory/%2e%2e%2e", PathOK},
		{"/api/inventory/100%25", PathOK},
		// A literal percent sign decoded from %25 that is not an escape.
		{"/api/inventory/%25zz", PathOK},
		{"/api//inventory", PathOK},

		{"/api/inventory/../sales", PathDotSegment},
		{"/api/inventory/./items", PathDotSegment},
		{"/api/inventory/..", PathDotSegment},
		{"/api/inventory/.", PathDotSegment},
		{"/../etc/passwd", PathDotSegment},
		{"/api/inventory/%2e%2e/sales", PathDotSegment},
		{"/api/inventory/%2E%2E/sales", PathDotSegment},
		{"/api/inventory/%2E%2e/sales", PathDotSegment},
		{"/api/inventory/.%2e/sales", PathDotSegment},
		{"/api/inventory/%2e./sales", PathDotSegment},
		{"/api/inventory/%2e/sales", PathDotSegment},
		{"/api/inventory/%252e%252e/sales", PathDotSegment},
		{"/api/inventory/%25252e%25252e/sales", PathDotSegment},

		{"/api/inventory%2Fsales", PathEncodedSlash},
		{"/api/inventory%2fsales", PathEncodedSlash},
		{"/api/inventory%5Csales", PathEncodedSlash},
		{"/api/inventory%5csales", PathEncodedSlash},
		{"/api/inventory%252Fsales", PathEncodedSlash},
		{"/api/inventory%252fsales", PathEncodedSlash},
		{"/api/inventory/%2e%2e%2fsales", PathEncodedSlash},

		{`/api/inventory\..\sales`, PathBackslash},
		{`/api\inventory`, PathBackslash},

		{"/api/inventory/%00", PathControl},
		{"/api/inventory/%2500", PathControl},
		{"/api/inventory/a\x00b", PathControl},
		{"/api/inventory/a\tb", PathControl},
		{"/api/inventory/%0d%0a", PathControl},

		{"/api/inventory;jsessionid=1", PathSemicolon},
		{"/api/inventory/..;/sales", PathSemicolon},
		{"/api/inventory%3B/sales", PathSemicolon},
		{"/api/inventory%3b/sales", PathSemicolon},
		{"/api/inventory%253B/sales", PathSemicolon},

		{"/api/inventory#/../sales", PathFragment},
		{"/api#/sales/orders", PathFragment},
		{"/api/inventory/a%23b", PathOK}, // an escaped '#' is part of the name

		{"/api/inventory/%zz", PathMalformedEscape},
		{"/api/inventory/%2", PathMalformedEscape},
		{"/api/inventory/%", PathMalformedEscape},

		// A literal '%' in a decoded layer does not stop the layers below
		// it from being checked, since lenient decoders decode around it.
		{"/api/inventory/%252e%252e%252fsales%252forders%25", PathEncodedSlash},
		{"/api/inventory/..%255csales%25", PathEncodedSlash},
		{"/api/inventory/x%2500%25", PathControl},
		{"/api/inventory/x%253bjsessionid=1%25", PathSemicolon},
		{"/api/%25%252e%252e/sales", PathOK}, // "%.." is not a dot segment
		{"/api/%25/%252e%252e/sales", PathDotSegment},

		{"/api/inventory/items%2523/admin", PathEncodedDelim},
		{"/api/inventory/items%253Fx=/admin", PathEncodedDelim},
		{"/api/inventory/items%253f", PathEncodedDelim},
		{"/api/inventory/items%252523", PathEncodedDelim},
		// A '#' encoded once stays part of the name while a deeper layer
		// changes around it.
		{"/api/inventory/a%23b%2520c", PathOK},
		{"/api/inventory/a%3Fb", PathOK},

		{"/api/inventory/%c0%ae%c0%ae/x", PathOverlongUTF8},
		{"/api/inventory/..%c0%afadmin", PathOverlongUTF8},
		{"/api/inventory/%C1%9C", PathOverlongUTF8},
		{"/api/inventory/%e0%80%ae", PathOverlongUTF8},
		{"/api/inventory/%f0%80%80%ae", PathOverlongUTF8},
		{"/api/inventory/%25c0%25ae", PathOverlongUTF8},
		{"/api/inventory/\xc0\xae", PathOverlongUTF8},
		{"/api/inventory/caf%E9", PathOK},       // Latin-1, not UTF-8, but not overlong
		{"/api/inventory/%E0%A4%85", PathOK},    // a three-byte sequence of normal length
		{"/api/inventory/%F0%9F%98%80", PathOK}, // a four-byte sequence of normal length

		{"/api/inventory/%u002e%u002e/x", PathMalformedEscape},
		{"/api/inventory/%25u002e%25u002e/x", PathMalformedEscape},
		{"/api/inventory/%2525U002F", PathMalformedEscape},
		{"/api/inventory/%25uzzzz", PathOK}, // not an escape in any form

		{"/a%2525252525", PathDeepEncoding},
		{"", PathNotAbsolute},
		{"api/inventory", PathNotAbsolute},
	}
	for _, tt := range tests {
		if got := CheckPath(tt.path); got != tt.want {
			t.Errorf("CheckPath(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestCheckPathAllocations(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		CheckPath("/api/inventory/items/42?")
	})
	if allocs != 0 {
		t.Errorf("CheckPath of a plain path allocated %v times, want 0", allocs)
	}
}

// FuzzCheckPath asserts the safety property: whatever CheckPath accepts,
// resolving its dot segments changes nothing, at any level of decoding, so
// every server that decodes and cleans the path sees the same path.
func FuzzCheckPath(f *testing.F) {
	for _, seed := range []string{
		"/api/inventory/items", "/a/../b", "/a/%2e%2e/b", "/a/%252e%252E/b", "/a%2fb", "/a%5Cb",
		`/a\b`, "/a;b", "/a%00", "/%", "/a%25zz", "/caf%C3%A9", "/.well-known/x",
		"/a%2523b", "/a%253Fb", "/%c0%ae", "/%25u002e",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if CheckPath(path) != PathOK || path == "*" {
			return
		}
		cur := path
		for layer := range maxDecodeDepth + 1 {
			for seg := range strings.SplitSeq(cur, "/") {
				if seg == "." || seg == ".." {
					t.Fatalf("CheckPath(%q) = ok, but a decoded layer %q has a dot segment", path, cur)
				}
			}
			if strings.ContainsAny(cur, "\\;\x00") {
				t.Fatalf("CheckPath(%q) = ok, but a decoded layer %q has a backslash, ';' or NUL", path, cur)
			}
			if strings.Contains(cur, "\xc0") || strings.Contains(cur, "\xc1") {
				t.Fatalf("CheckPath(%q) = ok, but a decoded layer %q has an overlong UTF-8 lead byte", path, cur)
			}
			dec := lenientUnescape(cur)
			if dec == cur {
				return
			}
			if layer > 0 && strings.Count(dec, "#")+strings.Count(dec, "?") > strings.Count(cur, "#")+strings.Count(cur, "?") {
				t.Fatalf("CheckPath(%q) = ok, but decoding %q twice or more reveals a '#' or '?'", path, cur)
			}
			if strings.Count(dec, "/") != strings.Count(cur, "/") {
				t.Fatalf("CheckPath(%q) = ok, but decoding %q adds a '/'", path, cur)
			}
			cur = dec
		}
	})
}

func BenchmarkCheckPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		CheckPath("/api/inventory/items/42/movements")
	}
}

func BenchmarkCheckPathEscaped(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		CheckPath("/api/inventory/q1%20report%2Bfinal.csv")
	}
}

// lenientUnescape decodes each valid %XX escape of s once and keeps any
// other '%' as it is, as lenient URL decoders in upstream frameworks do.
func lenientUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
