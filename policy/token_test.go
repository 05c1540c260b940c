package policy

import (
	"strings"
	"testing"
)

func TestParseToken(t *testing.T) {
	secret := strings.Repeat("a1B2", 8) // 32 base62 characters
	tests := []struct {
		name       string
		token      string
		wantID     string
		wantSecret string
		wantOK     bool
	}{
		{"valid", "awra_acme-sync_" + secret, "acme-sync", secret, true},
		{"max id length", "awra_" + strings.Repeat("a", 64) + "_" + secret, strings.Repeat("a", 64), secret, true},
		{"id too long", "awra_" + strings.Repeat("a", 65) + "_" + secret, "", "", false},
		{"empty", "", "", "", false},
		{"prefix only", "awra_", "", "", false},
		{"wrong prefix case", "AWRA_acme_" + secret, "", "", false},
		{"missing prefix", "acme_" + secret, "", "", false},
		{"empty id", "awra__" + secret, "", "", false},
		{"upper-case id", "awra_Acme_" + secret, "", "", false},
		{"secret too short", "awra_acme_" + secret[:31], "", "", false},
		{"secret with underscore", "awra_acme_" + secret[:16] + "_" + secret[16:], "", "", false},
		{"secret with symbol", "awra_acme_" + secret + "+", "", "", false},
		{"secret with space", "awra_acme_" + secret + " ", "", "", false},
		{"no separator", "awra_acme" + secret, "", "", false},
		{"non-ASCII id", "awra_acmé_" + secret, "", "", false},
		{"secret too long", "awra_acme_" + strings.Repeat("a", 257), "", "", false},
		{"doubled token", "awra_acme_" + secret + "awra_acme_" + secret, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, sec, ok := ParseToken(tt.token)
			if ok != tt.wantOK || id != tt.wantID || sec != tt.wantSecret {
				t.Errorf("ParseToken(%q) = %q, <secret %d chars>, %v; want %q, <secret %d chars>, %v",
					tt.token, id, len(sec), ok, tt.wantID, len(tt.wantSecret), tt.wantOK)
			}
		})
	}
}

func TestNewTokenParsesBack(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := NewToken("k-1")
		if err != nil {
			t.Fatalf("NewToken: %v", err)
		}
		id, secret, ok := ParseToken(tok)
		if !ok || id != "k-1" || len(secret) != GeneratedSecretLength {
			t.Fatalf("ParseToken(new token) = %q, %d chars, %v; want k-1, %d chars, true", id, len(secret), ok, GeneratedSecretLength)
		}
		if seen[secret] {
			t.Fatal("NewToken returned the same secret twice")
		}
		seen[secret] = true
	}
}

func TestNewTokenRejectsBadID(t *testing.T) {
	for _, id := range []string{"", "Upper", "under_score", strings.Repeat("a", 65)} {
		if _, err := NewToken(id); err == nil {
			t.Errorf("NewToken(%q) succeeded; want an error", id)
		}
	}
}

func TestHashRoundTrip(t *testing.T) {
	sum := HashToken("awra_x_" + strings.Repeat("z", 32))
	text := FormatHash(sum)
	if !strings.HasPrefix(text, "sha256:") || len(text) != 7+64 {
		t.Fatalf("FormatHash = %q; want sha256: and 64 hex digits", text)
	}
	back, err := ParseHash(text)
	if err != nil || back != sum {
		t.Fatalf("ParseHash(FormatHash(sum)) = %x, %v; want %x, nil", back, err, sum)
	}
	for _, bad := range []string{"", "sha256:", "sha512:" + text[7:], text[:len(text)-1], text + "0", "sha256:" + strings.Repeat("g", 64)} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) succeeded; want an error", bad)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add("awra_acme_" + strings.Repeat("Ab9", 11))
	f.Add("awra__")
	f.Add("awra_a_")
	f.Add("awra_" + strings.Repeat("a", 70) + "_x")
	f.Fuzz(func(t *testing.T, token string) {
		id, secret, ok := ParseToken(token)
		if !ok {
			if id != "" || secret != "" {
				t.Fatalf("ParseToken(%q) returned parts without ok", token)
			}
			return
		}
		if token != TokenPrefix+id+"_"+secret {
			t.Fatalf("ParseToken(%q) = %q, %q; the parts do not rebuild the token", token, id, secret)
		}
		if !keyIDRef(id) || len(secret) < MinSecretLength || !base62Ref(secret) {
			t.Fatalf("ParseToken(%q) accepted an invalid part", token)
		}
	})
}

// keyIDRef and base62Ref restate the character rules with plain compares,
// so that the fuzz target checks ParseToken's lookup table against them.
func keyIDRef(s string) bool {
	if s == "" || len(s) > MaxKeyIDLength {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func base62Ref(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func TestIsTokenByte(t *testing.T) {
	for c := 0; c < 256; c++ {
		s := string([]byte{byte(c)})
		want := c == '_' || keyIDRef(s) || base62Ref(s)
		if got := IsTokenByte(byte(c)); got != want {
			t.Errorf("IsTokenByte(%#x) = %t, want %t", c, got, want)
		}
	}
}
