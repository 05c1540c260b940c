package signedurl

import (
	"strings"
	"testing"
)

func TestCanonicalLines(t *testing.T) {
	tests := []struct {
		name                                 string
		method, scheme, host, rawPath, query string
		want                                 string // the last four lines
	}{
		{"method upper-cased", "get", "https", "h", "/", "", "GET\nh\n/\n"},
		{"host lower-cased", "GET", "https", "Files.EXAMPLE", "/", "", "GET\nfiles.example\n/\n"},
		{"https default port removed", "GET", "https", "h:443", "/", "", "GET\nh\n/\n"},
		{"http default port removed", "GET", "http", "h:80", "/", "", "GET\nh\n/\n"},
		{"scheme compared without case", "GET", "HTTPS", "h:443", "/", "", "GET\nh\n/\n"},
		{"https keeps port 80", "GET", "https", "h:80", "/", "", "GET\nh:80\n/\n"},
		{"http keeps port 443", "GET", "http", "h:443", "/", "", "GET\nh:443\n/\n"},
		{"port 8443 kept", "GET", "https", "h:8443", "/", "", "GET\nh:8443\n/\n"},
		{"IPv6 default port removed", "GET", "https", "[::1]:443", "/", "", "GET\n[::1]\n/\n"},
		{"IPv6 without port kept", "GET", "https", "[::443]", "/", "", "GET\n[::443]\n/\n"},
		{"empty path is slash", "GET", "https", "h", "", "", "GET\nh\n/\n"},
		{"escape hex upper-cased", "GET", "https", "h", "/a%2fb%c3%a9", "", "GET\nh\n/a%2Fb%C3%A9\n"},
		{"unreserved escapes decoded", "GET", "https", "h", "/%41%7a%30%2D%2e%5F%7E", "", "GET\nh\n/Az0-._~\n"},
		{"space escape kept", "GET", "https", "h", "/a%20b", "", "GET\nh\n/a%20b\n"},
		{"percent escape kept", "GET", "https", "h", "/100%25", "", "GET\nh\n/100%25\n"},
		{"raw reserved characters kept in path", "GET", "https", "h", "/a+b:c@d!$&'()*,=", "", "GET\nh\n/a+b:c@d!$&'()*,=\n"},
		{"dot segments kept", "GET", "https", "h", "/a/../b/./c", "", "GET\nh\n/a/../b/./c\n"},
		{"raw non-ASCII path kept", "GET", "https", "h", "/caf\xc3\xa9", "", "GET\nh\n/caf\xc3\xa9\n"},
		{"query plus is literal", "GET", "https", "h", "/", "q=a+b", "GET\nh\n/\nq=a%2Bb"},
		{"query space escape", "GET", "https", "h", "/", "q=a%20b", "GET\nh\n/\nq=a%20b"},
		{"query escapes normalized", "GET", "https", "h", "/", "q=%7e%41%2f%c3%a9", "GET\nh\n/\nq=~A%2F%C3%A9"},
		{"query raw reserved encoded", "GET", "https", "h", "/", "q=/?:@!$'()*,", "GET\nh\n/\nq=%2F%3F%3A%40%21%24%27%28%29%2A%2C"},
		{"query raw non-ASCII encoded", "GET", "https", "h", "/", "q=caf\xc3\xa9", "GET\nh\n/\nq=caf%C3%A9"},
		{"query name encoded", "GET", "https", "h", "/", "a%5Bb%5D=1", "GET\nh\n/\na%5Bb%5D=1"},
		{"missing equals gives empty value", "GET", "https", "h", "/", "flag", "GET\nh\n/\nflag="},
		{"first equals splits", "GET", "https", "h", "/", "a=b=c", "GET\nh\n/\na=b%3Dc"},
		{"empty name kept", "GET", "https", "h", "/", "=v", "GET\nh\n/\n=v"},
		{"empty pieces skipped", "GET", "https", "h", "/", "&&a=1&&", "GET\nh\n/\na=1"},
		{"sorted by name then value", "GET", "https", "h", "/", "b=1&a=2&a=1&A=9", "GET\nh\n/\nA=9&a=1&a=2&b=1"},
		{"name sorts before name with suffix", "GET", "https", "h", "/", "a-=1&a=2", "GET\nh\n/\na=2&a-=1"},
		{"sorted by encoded bytes", "GET", "https", "h", "/", "b=%7E&b=%21&b=z", "GET\nh\n/\nb=%21&b=z&b=~"},
		{"duplicates kept", "GET", "https", "h", "/", "a=1&a=1", "GET\nh\n/\na=1&a=1"},
		{"signature left out", "GET", "https", "h", "/", "a=1&X-Awra-Signature=abc", "GET\nh\n/\na=1"},
		{"escaped signature name left out", "GET", "https", "h", "/", "a=1&X-Awra-Signatur%65=abc", "GET\nh\n/\na=1"},
		{"lower-case signature name signed", "GET", "https", "h", "/", "x-awra-signature=abc", "GET\nh\n/\nx-awra-signature=abc"},
		{"key id and expiry signed", "GET", "https", "h", "/", "X-Awra-Key-Id=k&X-Awra-Expires=1767225600",
			"GET\nh\n/\nX-Awra-Expires=1767225600&X-Awra-Key-Id=k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical(tt.method, tt.scheme, tt.host, tt.rawPath, tt.query)
			if err != nil {
				t.Fatalf("Canonical(%q, %q, %q, %q, %q) error: %v", tt.method, tt.scheme, tt.host, tt.rawPath, tt.query, err)
			}
			want := Algorithm + "\n" + tt.want
			if got != want {
				t.Errorf("Canonical(%q, %q, %q, %q, %q) = %q, want %q", tt.method, tt.scheme, tt.host, tt.rawPath, tt.query, got, want)
			}
		})
	}
}

func TestCanonicalManyParameters(t *testing.T) {
	// More parameters than fit on the stack take the slices.SortFunc path.
	// Every name has the same length, so comparing whole pairs is enough.
	var query []string
	for i := 99; i >= 0; i-- {
		query = append(query, "p"+string(rune('a'+i%26))+"="+string(rune('0'+i%10)))
	}
	got, err := Canonical("GET", "https", "h", "/", strings.Join(query, "&"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(got, "\n")
	pairs := strings.Split(lines[4], "&")
	if len(pairs) != 100 {
		t.Fatalf("canonical query has %d pairs, want 100", len(pairs))
	}
	for i := 1; i < len(pairs); i++ {
		if pairs[i-1] > pairs[i] {
			t.Errorf("pair %d %q sorts after pair %d %q", i-1, pairs[i-1], i, pairs[i])
		}
	}
}

func TestCanonicalRejects(t *testing.T) {
	tests := []struct {
		name           string
		rawPath, query string
		wantInError    string
	}{
		{"malformed path escape", "/a%g1", "", "malformed percent-escape at byte 2"},
		{"truncated path escape", "/a%4", "", "malformed percent-escape"},
		{"trailing percent in path", "/a%", "", "malformed percent-escape"},
		{"space in path", "/a b", "", "byte 0x20 at byte 2 must be percent-encoded as %20"},
		{"newline in path", "/a\nb", "", "byte 0x0A at byte 2"},
		{"DEL in path", "/a\x7fb", "", "byte 0x7F"},
		{"malformed query escape", "/", "a=%zz", "malformed percent-escape at byte 2"},
		{"trailing percent in query", "/", "a=1%", "malformed percent-escape"},
		{"NUL in query", "/", "a=\x00", "byte 0x00"},
		{"tab in query", "/", "a=\t", "byte 0x09"},
		{"semicolon in query", "/", "a=1;b=2", "';' at byte 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical("GET", "https", "h", tt.rawPath, tt.query)
			if err == nil {
				t.Fatalf("Canonical(%q, %q) = %q, want error", tt.rawPath, tt.query, got)
			}
			if !strings.Contains(err.Error(), tt.wantInError) {
				t.Errorf("Canonical(%q, %q) error = %q, want it to contain %q", tt.rawPath, tt.query, err, tt.wantInError)
			}
		})
	}
}

func TestStripControlParams(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  string
	}{
		{"control parameters last", "a=1&b=2&X-Awra-Key-Id=k&X-Awra-Expires=1767225600&X-Awra-Signature=s", "a=1&b=2"},
		{"control parameters first", "X-Awra-Key-Id=k&X-Awra-Expires=1767225600&X-Awra-Signature=s&a=1", "a=1"},
		{"control parameters only", "X-Awra-Key-Id=k&X-Awra-Expires=1767225600&X-Awra-Signature=s", ""},
		{"interleaved", "X-Awra-Signature=s&a=1&X-Awra-Key-Id=k&b=a+b&X-Awra-Expires=1767225600&c", "a=1&b=a+b&c"},
		{"bytes kept as sent", "q=%7e+%2f&X-Awra-Key-Id=k&flag&X-Awra-Expires=1767225600&X-Awra-Signature=s", "q=%7e+%2f&flag"},
		{"empty pieces kept", "a=1&&X-Awra-Key-Id=k&X-Awra-Expires=1767225600&X-Awra-Signature=s&", "a=1&&"},
		{"escaped control name removed", "a=1&X-Awra-Key-I%64=k&X-Awra-Expires=1767225600&X-Awra-Signature=s", "a=1"},
		{"lower-case name kept", "a=1&x-awra-key-id=z&X-Awra-Key-Id=k&X-Awra-Expires=1767225600&X-Awra-Signature=s", "a=1&x-awra-key-id=z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, f := parseQuery(tt.query, nil)
			if f.reason != "" || q.keyID < 0 || q.expires < 0 || q.signature < 0 || q.duplicated {
				t.Fatalf("parseQuery(%q) = %+v, %+v, want three control parameters", tt.query, q, f)
			}
			got := stripControlParams(tt.query, [3]int{q.params[q.keyID].start, q.params[q.expires].start, q.params[q.signature].start})
			if got != tt.want {
				t.Errorf("stripControlParams(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}
