package signedurl

import (
	"strings"
	"testing"
	"time"
)

// FuzzCanonical feeds arbitrary requests to Canonical and Verify. Neither
// may panic, a canonical string has exactly five lines when method and host
// have no line break, canonical path and query are fixed points, and no
// request without a real signature is allowed.
func FuzzCanonical(f *testing.F) {
	f.Add("GET", "https", "files.example:443", "/a%2fb%7E", "q=a+b&X-Awra-Key-Id=k2026&X-Awra-Expires=1767229200&X-Awra-Signature=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("delete", "http", "H:80", "", "&&flag&a=b=c&%7e=%41")
	f.Add("GET", "https", "h", "/%zz", "a=1;b=2")
	f.Add("GET", "https", "h", "/caf\xc3\xa9", "X-Awra-Expire%73=1&X-Awra-Expires=2")

	secret := []byte(strings.Repeat("fuzz-secret-", 4))
	v, err := NewVerifier(Config{Keys: map[string][]byte{"k2026": secret}})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, method, scheme, host, rawPath, rawQuery string) {
		res := v.Verify(testNow, method, scheme, host, rawPath, rawQuery)
		if res.Allowed() {
			t.Fatalf("Verify(%q, %q, %q, %q, %q) allowed a request nobody signed", method, scheme, host, rawPath, rawQuery)
		}

		got, err := Canonical(method, scheme, host, rawPath, rawQuery)
		if err != nil {
			return
		}
		again, err := Canonical(method, scheme, host, rawPath, rawQuery)
		if err != nil || again != got {
			t.Fatalf("Canonical is not deterministic: %q then %q, %v", got, again, err)
		}

		if strings.ContainsAny(method+host, "\n") {
			return
		}
		lines := strings.Split(got, "\n")
		if len(lines) != 5 {
			t.Fatalf("Canonical(%q, %q, %q, %q, %q) has %d lines, want 5: %q", method, scheme, host, rawPath, rawQuery, len(lines), got)
		}

		fixed, err := Canonical("GET", "https", "h", lines[3], lines[4])
		if err != nil {
			t.Fatalf("Canonical of canonical path %q and query %q error: %v", lines[3], lines[4], err)
		}
		if want := Algorithm + "\nGET\nh\n" + lines[3] + "\n" + lines[4]; fixed != want {
			t.Fatalf("canonical path and query are not fixed points: %q, want %q", fixed, want)
		}
	})
}

// FuzzSignVerify signs arbitrary requests. Whatever Sign accepts must
// verify, forward the original query unchanged, and stop verifying once a
// parameter is added or the path changes.
func FuzzSignVerify(f *testing.F) {
	f.Add("GET", "Files.Example:443", "/v1/a%20b%2B+c", "q=a+b&tag=b&tag=a", int64(3600))
	f.Add("put", "[::1]:8443", "", "", int64(1))
	f.Add("DELETE", "h", "/%7e%41%c3%a9", "&&flag&a=b=c&", int64(86400))

	secret := []byte(strings.Repeat("fuzz-secret-", 4))
	s, err := NewSigner("k2026", secret)
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewVerifier(Config{Keys: map[string][]byte{"k2026": secret}})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, method, host, rawPath, rawQuery string, lifetime int64) {
		lifetime %= int64(DefaultMaxTTL / time.Second)
		if lifetime < 0 {
			lifetime = -lifetime
		}
		expires := testNow.Add(time.Duration(lifetime) * time.Second)
		signed, err := s.Sign(method, "https", host, rawPath, rawQuery, expires)
		if err != nil {
			return
		}

		res := v.Verify(testNow, method, "https", host, rawPath, signed)
		if !res.Allowed() {
			t.Fatalf("Verify(%q, %q, %q, %q) reason = %q, want allowed", method, host, rawPath, signed, res.Reason)
		}
		if res.Query != rawQuery {
			t.Fatalf("Verify(%q).Query = %q, want %q", signed, res.Query, rawQuery)
		}
		if res.KeyID != "k2026" || !res.KeyKnown || res.Expires.Unix() != expires.Unix() {
			t.Fatalf("Verify(%q) = key %q, known %v, expires %v, want k2026, true, %v", signed, res.KeyID, res.KeyKnown, res.Expires, expires)
		}

		if res := v.Verify(testNow, method, "https", host, rawPath, signed+"&x=1"); res.Allowed() {
			t.Fatalf("Verify(%q) allowed an added parameter", signed+"&x=1")
		}
		if res := v.Verify(testNow, method, "https", host, rawPath+"x", signed); res.Allowed() {
			t.Fatalf("Verify(%q) allowed a changed path", rawPath+"x")
		}
	})
}
