package signedurl

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSignURL(t *testing.T) {
	secret := newTestSecret(t)
	v, err := NewVerifier(Config{Keys: map[string][]byte{"k2026": secret}})
	if err != nil {
		t.Fatal(err)
	}
	expires := testNow.Add(time.Hour)

	tests := []struct {
		name        string
		url         string
		wantPrefix  string
		wantSuffix  string
		wantForward string
	}{
		{"no query", "https://files.example/a.pdf", "https://files.example/a.pdf?X-Awra-Key-Id=k2026&X-Awra-Expires=1767229200&X-Awra-Signature=", "", ""},
		{"query kept byte for byte", "https://files.example/a.pdf?q=a+b&x=%7e&flag", "https://files.example/a.pdf?q=a+b&x=%7e&flag&X-Awra-Key-Id=k2026&", "", "q=a+b&x=%7e&flag"},
		{"empty query kept", "https://files.example/a.pdf?", "https://files.example/a.pdf?X-Awra-Key-Id=k2026&", "", ""},
		{"trailing ampersand kept", "https://files.example/a.pdf?a=1&", "https://files.example/a.pdf?a=1&&X-Awra-Key-Id=k2026&", "", "a=1&"},
		{"fragment kept", "https://files.example/a.pdf?a=1#page=2", "https://files.example/a.pdf?a=1&X-Awra-Key-Id=k2026&", "#page=2", "a=1"},
		{"empty fragment kept", "https://files.example/a.pdf#", "https://files.example/a.pdf?X-Awra-Key-Id=k2026&", "#", ""},
		{"no path", "https://files.example?a=1", "https://files.example?a=1&X-Awra-Key-Id=k2026&", "", "a=1"},
		{"host and escapes kept", "HTTPS://Files.Example:443/a%7e%2F?a=%41", "HTTPS://Files.Example:443/a%7e%2F?a=%41&", "", "a=%41"},
		{"port kept", "http://127.0.0.1:8080/a", "http://127.0.0.1:8080/a?X-Awra-Key-Id=k2026&", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SignURL("GET", tt.url, "k2026", secret, expires)
			if err != nil {
				t.Fatalf("SignURL(%q) error: %v", tt.url, err)
			}
			if !strings.HasPrefix(got, tt.wantPrefix) || !strings.HasSuffix(got, tt.wantSuffix) {
				t.Errorf("SignURL(%q) = %q, want prefix %q and suffix %q", tt.url, got, tt.wantPrefix, tt.wantSuffix)
			}

			scheme, host, path, query, _, _, err := splitURL(got)
			if err != nil {
				t.Fatal(err)
			}
			res := v.Verify(testNow, "GET", scheme, host, path, query)
			if !res.Allowed() {
				t.Fatalf("Verify(SignURL(%q)) reason = %q, want allowed", tt.url, res.Reason)
			}
			if res.Query != tt.wantForward {
				t.Errorf("Verify(SignURL(%q)).Query = %q, want %q", tt.url, res.Query, tt.wantForward)
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	secret := newTestSecret(t)
	s, err := NewSigner("k2026", secret)
	if err != nil {
		t.Fatal(err)
	}
	valid := testNow.Add(time.Hour)

	tests := []struct {
		name        string
		method      string
		url         string
		expires     time.Time
		wantInError string
	}{
		{"relative URL", "GET", "/a.pdf", valid, "use an absolute URL"},
		{"other scheme", "GET", "ftp://files.example/a", valid, "invalid scheme 'ftp'"},
		{"userinfo", "GET", "https://user:pw@files.example/a", valid, "remove the userinfo"},
		{"empty host", "GET", "https:///a", valid, "missing host"},
		{"host with space", "GET", "https://files example/a", valid, "invalid host"},
		{"host with backslash", "GET", "https://files.example\\evil/a", valid, "invalid host"},
		{"empty method", "", "https://files.example/a", valid, "invalid method ''"},
		{"method with space", "GET X", "https://files.example/a", valid, "invalid method 'GET X'"},
		{"method with newline", "GET\n", "https://files.example/a", valid, "invalid method"},
		{"raw space in path", "GET", "https://files.example/a b", valid, "byte 0x20 at byte 2 must be percent-encoded as %20"},
		{"raw non-ASCII in path", "GET", "https://files.example/caf\xc3\xa9", valid, "byte 0xC3 at byte 4 must be percent-encoded as %C3"},
		{"raw quote in path", "GET", "https://files.example/a\"b", valid, "byte 0x22"},
		{"raw bracket in path", "GET", "https://files.example/a[1]", valid, "byte 0x5B"},
		{"malformed path escape", "GET", "https://files.example/a%2", valid, "malformed percent-escape"},
		{"raw space in query", "GET", "https://files.example/a?q=a b", valid, "byte 0x20"},
		{"raw non-ASCII in query", "GET", "https://files.example/a?q=\xc3\xa9", valid, "byte 0xC3"},
		{"malformed query escape", "GET", "https://files.example/a?q=%g0", valid, "malformed percent-escape at byte 2"},
		{"semicolon in query", "GET", "https://files.example/a?a=1;b=2", valid, "';' at byte 3"},
		{"key id already present", "GET", "https://files.example/a?X-Awra-Key-Id=k", valid, "already has 'X-Awra-Key-Id'"},
		{"expiry already present", "GET", "https://files.example/a?a=1&X-Awra-Expires=1767229200", valid, "already has 'X-Awra-Expires'"},
		{"escaped signature already present", "GET", "https://files.example/a?X-Awra-Signatur%65=x", valid, "already has 'X-Awra-Signatur%65'"},
		{"expiry before 2001", "GET", "https://files.example/a", time.Unix(999_999_999, 0), "invalid expiry '2001-09-09T01:46:39Z'"},
		{"expiry after 2286", "GET", "https://files.example/a", time.Unix(10_000_000_000, 0), "use a time between 2001-09-09 and 2286-11-20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.SignURL(tt.method, tt.url, tt.expires)
			if err == nil {
				t.Fatalf("SignURL(%q, %q) = %q, want error", tt.method, tt.url, got)
			}
			if !strings.Contains(err.Error(), tt.wantInError) {
				t.Errorf("SignURL(%q, %q) error = %q, want it to contain %q", tt.method, tt.url, err, tt.wantInError)
			}
			if strings.Contains(err.Error(), string(secret)) {
				t.Errorf("SignURL(%q, %q) error contains the secret", tt.method, tt.url)
			}
		})
	}
}

func TestNewSignerRejects(t *testing.T) {
	secret := newTestSecret(t)
	tests := []struct {
		name        string
		keyID       string
		secret      []byte
		wantInError string
	}{
		{"short secret", "k2026", secret[:31], "secret of signing key 'k2026' is 31 bytes: use at least 32"},
		{"upper-case key id", "K2026", secret, "invalid signing key id 'K2026'"},
		{"key id with ampersand", "k&admin=1", secret, "invalid signing key id 'k&admin=1'"},
		{"key id too long", strings.Repeat("k", 65), secret, "use 1 to 64 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSigner(tt.keyID, tt.secret)
			if err == nil {
				t.Fatalf("NewSigner(%q) = %v, want error", tt.keyID, s)
			}
			if !strings.Contains(err.Error(), tt.wantInError) {
				t.Errorf("NewSigner(%q) error = %q, want it to contain %q", tt.keyID, err, tt.wantInError)
			}
			if strings.Contains(err.Error(), string(tt.secret)) {
				t.Errorf("NewSigner(%q) error contains the secret", tt.keyID)
			}
		})
	}
}

// fixedSignerURLs are URLs every signer must treat alike, valid or not.
var fixedSignerURLs = []string{
	"https://files.awra.example/v1/invoices/INV-0042.pdf",
	"https://Files.AWRA.example:8443/v1/exports/q1%20report%2bfinal%7E.csv?tag=b&tag=a&q=a+b",
	"https://files.awra.example/v1/docs/caf%C3%A9.txt?empty=",
	"http://files.awra.example:80/a?b=2&a=3&a=1&b=10&a=1",
	"https://files.awra.example:443/%7Euser/%41%62c?%7e=%41%2d",
	"https://files.awra.example/a%2fb/100%25/c:d@e!$&'()*+,=?r=/p?x:y@z!$'()*,&q=a%2Fb",
	"https://files.awra.example?flag&x=&a=b=c&&",
	"https://files.awra.example/a?a-=1&a=2&a.b=0#frag",
	"https://[2001:db8::1]:443/x?y",
	"HTTP://H/x",
	"https://h/a b",
	"https://h/a?b;c",
	"https://h/a%zz",
	"https://h/a?X-Awra-Key-Id=x",
	"https://h/a?X-Awra-Expire%73=1",
	"https://u@h/a",
	"ftp://h/a",
	"https://h/a\"b",
}

// randomURL builds a URL from pieces that exercise the canonical rules,
// including some that signers must reject.
func randomURL(r *rand.Rand) string {
	pieces := []string{"a", "Z", "0", "-", ".", "_", "~", "%20", "%2B", "%2b", "+", "%7E", "%7e", "%41", "%2F",
		"%C3%A9", "%e2%82%ac", "%25", "!", "$", "'", "(", ")", "*", ",", ":", "@", "="}
	rare := []string{"%", "%g", " ", ";", "[", "\"", "é"}
	piece := func() string {
		if r.IntN(60) == 0 {
			return rare[r.IntN(len(rare))]
		}
		return pieces[r.IntN(len(pieces))]
	}

	var b strings.Builder
	b.WriteString([]string{"https://", "http://", "HTTPS://"}[r.IntN(3)])
	b.WriteString([]string{"files.awra.example", "Files.Example:443", "h:80", "127.0.0.1:8443", "[::1]"}[r.IntN(5)])
	for range r.IntN(4) {
		b.WriteByte('/')
		for range r.IntN(5) {
			b.WriteString(piece())
		}
	}
	if r.IntN(5) > 0 {
		b.WriteByte('?')
		for i := range r.IntN(6) {
			if i > 0 {
				b.WriteByte('&')
			}
			for range r.IntN(4) {
				b.WriteString(piece())
			}
			if r.IntN(4) > 0 {
				b.WriteByte('=')
				for range r.IntN(4) {
					b.WriteString(piece())
				}
			}
		}
	}
	if r.IntN(10) == 0 {
		b.WriteString("#f")
	}
	return b.String()
}

// TestSignersAgree signs the same URLs with this package, testdata/signer.py
// and testdata/signer.js, and expects the same signed URLs and the same
// rejections.
func TestSignersAgree(t *testing.T) {
	secret := newTestSecret(t)
	s, err := NewSigner("k2026", secret)
	if err != nil {
		t.Fatal(err)
	}
	methods := []string{"GET", "get", "DELETE", "PUT"}
	expires := testNow.Add(time.Hour)

	urls := append([]string(nil), fixedSignerURLs...)
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		urls = append(urls, randomURL(r))
	}
	cases := make([]scriptCase, len(urls))
	for i, u := range urls {
		cases[i] = scriptCase{Op: "sign", Method: methods[i%len(methods)], URL: u, KeyID: "k2026", Expires: expires.Unix()}
	}

	for _, checker := range crossCheckers {
		t.Run(checker.interpreter, func(t *testing.T) {
			results := runCrossCheck(t, checker.interpreter, checker.script, secret, cases)
			rejected := 0
			for i, c := range cases {
				want, err := s.SignURL(c.Method, c.URL, expires)
				got := results[i]
				switch {
				case err != nil && got.Error == "":
					t.Errorf("%s sign(%q, %q) = %q, want rejection like Go: %v", checker.script, c.Method, c.URL, got.Result, err)
				case err == nil && got.Error != "":
					t.Errorf("%s sign(%q, %q) error: %s, want %q", checker.script, c.Method, c.URL, got.Error, want)
				case err == nil && got.Result != want:
					t.Errorf("%s sign(%q, %q) = %q, want %q", checker.script, c.Method, c.URL, got.Result, want)
				case err != nil:
					rejected++
				}
			}
			t.Logf("%s: %d of %d URLs rejected", checker.script, rejected, len(cases))
			// Both outcomes must be well represented for the comparison to mean anything.
			if rejected < 20 || rejected > len(cases)/2 {
				t.Errorf("%d of %d URLs rejected, want between 20 and half: adjust randomURL", rejected, len(cases))
			}
		})
	}
}

// TestSignerCommands runs signer.py and signer.js as a README reader would,
// with the secret in AWRA_URL_SECRET, and compares their output with
// SignURL.
func TestSignerCommands(t *testing.T) {
	secret := newTestSecret(t)
	expires := testNow.Add(time.Hour)
	exp := strconv.FormatInt(expires.Unix(), 10)

	for _, checker := range []struct{ interpreter, script string }{{"python3", "signer.py"}, {"node", "signer.js"}} {
		t.Run(checker.interpreter, func(t *testing.T) {
			bin, err := exec.LookPath(checker.interpreter)
			if err != nil {
				t.Skipf("%s not installed", checker.interpreter)
			}
			run := func(args ...string) (string, string, error) {
				cmd := exec.Command(bin, append([]string{filepath.Join("testdata", checker.script)}, args...)...)
				cmd.Env = append(os.Environ(), "AWRA_URL_SECRET="+string(secret))
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				return strings.TrimSuffix(stdout.String(), "\n"), stderr.String(), err
			}

			for _, u := range fixedSignerURLs[:4] {
				want, err := SignURL("GET", u, "k2026", secret, expires)
				if err != nil {
					t.Fatal(err)
				}
				got, stderr, err := run("GET", u, "k2026", exp)
				if err != nil {
					t.Fatalf("%s GET %q failed: %v\n%s", checker.script, u, err, stderr)
				}
				if got != want {
					t.Errorf("%s GET %q = %q, want %q", checker.script, u, got, want)
				}
			}

			got, stderr, err := run("GET", "https://h/a b", "k2026", exp)
			if err == nil {
				t.Errorf("%s GET %q = %q, want a failure", checker.script, "https://h/a b", got)
			}
			if strings.Contains(stderr, string(secret)) {
				t.Errorf("%s stderr contains the secret", checker.script)
			}
		})
	}
}
