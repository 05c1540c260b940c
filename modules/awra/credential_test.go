package awra

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/awra/awragate/policy"
)

func TestFindCredentialSecondKey(t *testing.T) {
	first, err := policy.NewToken("first")
	if err != nil {
		t.Fatal(err)
	}
	second, err := policy.NewToken("second")
	if err != nil {
		t.Fatal(err)
	}
	keyHeaders := []string{defaultKeyHeader}
	for _, tt := range []struct {
		name          string
		authorization string
		want          credentialProblem
	}{
		{"basic auth for the upstream", "Basic dXNlcjpwYXNz", credOK},
		{"tab after Bearer", "Bearer\t" + second, credDuplicated},
		{"another scheme", "Token " + second, credDuplicated},
		{"token inside a longer value", "Custom key=" + second + ", realm=x", credDuplicated},
		{"percent-encoded token", "Token " + strings.Replace(second, "_", "%5F", -1), credDuplicated},
		{"token as the Basic user name", "Basic " + base64.StdEncoding.EncodeToString([]byte(second+":")), credDuplicated},
		{"token as the Basic password", "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+second)), credDuplicated},
		{"Basic without padding", "Basic " + base64.RawStdEncoding.EncodeToString([]byte(":"+second)), credDuplicated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"X-Api-Key": {first}, "Authorization": {tt.authorization}}
			cred, problem := findCredential(h, keyHeaders)
			if problem != tt.want {
				t.Fatalf("findCredential problem = %q, want %q", problem, tt.want)
			}
			if tt.want == credOK && (cred.token != first || cred.header != defaultKeyHeader) {
				t.Errorf("findCredential took the key from %s, want X-Api-Key", cred.header)
			}
		})
	}
}

func TestQueryCarriesKey(t *testing.T) {
	token, err := policy.NewToken("k")
	if err != nil {
		t.Fatal(err)
	}
	escaped := url.QueryEscape(token)
	for _, tt := range []struct {
		name  string
		query string
		want  bool
	}{
		{"no query", "", false},
		{"ordinary parameters", "page=2&sort=name", false},
		{"prefix inside text without a token", "q=see+awra_docs", false},
		{"short secret inside text", "q=x+awra_k_abc", false},
		{"value starting with the prefix", "q=awra_docs", true}, // refused even without a token's shape
		{"named parameter", "api_key=x", true},
		{"value", "q=" + escaped, true},
		{"behind text", "q=x%20" + escaped, true},
		{"behind a semicolon", "a=1;x=" + escaped, true},
		{"behind Bearer", "q=Bearer+" + escaped, true},
		{"escaped underscore", "q=%22awra%5F" + token[len("awra_"):], true},
	} {
		if got := queryCarriesKey(tt.query); got != tt.want {
			t.Errorf("%s: queryCarriesKey = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A query of many token prefixes is scanned in linear time, and a token
// behind them is still found.
func TestQueryCarriesKeyManyPrefixes(t *testing.T) {
	token, err := policy.NewToken("k")
	if err != nil {
		t.Fatal(err)
	}
	prefixes := strings.Repeat(policy.TokenPrefix, 20000)
	// "x" first, since a value that starts with the prefix is refused anyway.
	if queryCarriesKey("q=x" + prefixes) {
		t.Error("queryCarriesKey(prefixes only) = true, want false")
	}
	if !queryCarriesKey("q=x" + prefixes + token[len(policy.TokenPrefix):]) {
		t.Error("queryCarriesKey(prefixes and a token) = false, want true")
	}
	if !queryCarriesKey("q=x" + token) {
		t.Error("queryCarriesKey(token glued to a letter) = false, want true")
	}
}

// FuzzContainsToken checks the linear scan against a plain one that tries
// every occurrence of the prefix with the rest of its run.
func FuzzContainsToken(f *testing.F) {
	token, err := policy.NewToken("k-1")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"", token, "x" + token, "awra_awra_" + token[len("awra_"):], token + "_x", "q=1&t=" + token + "&p=2", "awra_k_short"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := false
		for rest := s; ; {
			i := strings.Index(rest, policy.TokenPrefix)
			if i < 0 {
				break
			}
			rest = rest[i+len(policy.TokenPrefix):]
			end := 0
			for end < len(rest) && policy.IsTokenByte(rest[end]) {
				end++
			}
			if _, _, ok := policy.ParseToken(policy.TokenPrefix + rest[:end]); ok {
				want = true
				break
			}
		}
		if got := containsToken(s); got != want {
			t.Fatalf("containsToken(%q) = %v, want %v", s, got, want)
		}
	})
}
