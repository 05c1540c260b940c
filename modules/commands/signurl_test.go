package commands

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/awra/awragate/policy/signedurl"
)

// signURLTestSecret is the secret of the sign-url tests. It is test data,
// not a secret.
const signURLTestSecret = "sign-url-command-test-secret-0123456789abcdef"

// signURLNow is the fixed clock of the runSignURL tests.
var signURLNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// signURLEnv returns the environment of the tests: AWRA_URL_KEY contains
// the secret, and AWRA_SHORT a secret one byte too short.
func signURLEnv(name string) string {
	switch name {
	case "AWRA_URL_KEY":
		return signURLTestSecret
	case "AWRA_SHORT":
		return signURLTestSecret[:signedurl.MinSecretLength-1]
	}
	return ""
}

// signURLArgsFor returns the arguments of a command line that names key
// k2026 in AWRA_URL_KEY, with the default method and lifetime.
func signURLArgsFor() signURLArgs {
	return signURLArgs{keyID: "k2026", secretEnv: "AWRA_URL_KEY", method: "GET", expiresIn: "15m"}
}

// verifySignedLine checks that out is exactly one line containing a URL that
// verifies for method at now, and returns the verification result.
func verifySignedLine(t *testing.T, out, method string, now time.Time) signedurl.Result {
	t.Helper()
	line, ok := strings.CutSuffix(out, "\n")
	if !ok || strings.Contains(line, "\n") {
		t.Fatalf("output = %q, want exactly one line with the URL", out)
	}
	rest, ok := strings.CutPrefix(line, "https://files.example.com")
	if !ok {
		t.Fatalf("output = %q, want a URL on https://files.example.com", line)
	}
	path, query, _ := strings.Cut(rest, "?")

	v, err := signedurl.NewVerifier(signedurl.Config{
		Keys:   map[string][]byte{"k2026": []byte(signURLTestSecret)},
		MaxTTL: signedurl.MaxTTLLimit,
	})
	if err != nil {
		t.Fatalf("signedurl.NewVerifier: %v", err)
	}
	return v.Verify(now, method, "https", "files.example.com", path, query)
}

func TestRunSignURL(t *testing.T) {
	const rawURL = "https://files.example.com/files/q1%20report.csv?tag=b&q=a+b"
	tests := []struct {
		name         string
		edit         func(a *signURLArgs)
		expiresInSet bool
		wantMethod   string
		wantExpires  time.Time
	}{
		{"default lifetime", nil, false, "GET", signURLNow.Add(15 * time.Minute)},
		{"expires-in duration", func(a *signURLArgs) { a.expiresIn = "36h" }, true, "GET", signURLNow.Add(36 * time.Hour)},
		{"expires-in days", func(a *signURLArgs) { a.expiresIn = "2d" }, true, "GET", signURLNow.Add(48 * time.Hour)},
		{"expires-in exactly 7 days", func(a *signURLArgs) { a.expiresIn = "7d" }, true, "GET", signURLNow.Add(7 * 24 * time.Hour)},
		{"expires-at RFC 3339", func(a *signURLArgs) { a.expiresAt = "2026-01-01T06:30:00+02:00" }, false, "GET", time.Date(2026, 1, 1, 4, 30, 0, 0, time.UTC)},
		{"expires-at Unix seconds", func(a *signURLArgs) { a.expiresAt = strconv.FormatInt(signURLNow.Unix()+600, 10) }, false, "GET", signURLNow.Add(10 * time.Minute)},
		{"method in lower case", func(a *signURLArgs) { a.method = "delete" }, false, "DELETE", signURLNow.Add(15 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := signURLArgsFor()
			if tt.edit != nil {
				tt.edit(&a)
			}
			var out bytes.Buffer
			if err := runSignURL(&out, signURLEnv, signURLNow, a, tt.expiresInSet, rawURL); err != nil {
				t.Fatalf("runSignURL error: %v", err)
			}

			res := verifySignedLine(t, out.String(), tt.wantMethod, signURLNow)
			if !res.Allowed() {
				t.Fatalf("Verify of the printed URL = %q, want allowed", res.Reason)
			}
			if !res.Expires.Equal(tt.wantExpires) {
				t.Errorf("expiry = %s, want %s", res.Expires, tt.wantExpires)
			}
			if res.Query != "tag=b&q=a+b" {
				t.Errorf("query without control parameters = %q, want %q", res.Query, "tag=b&q=a+b")
			}
			if tt.wantMethod != "GET" {
				if other := verifySignedLine(t, out.String(), "GET", signURLNow); other.Allowed() {
					t.Errorf("a %s link verifies for GET", tt.wantMethod)
				}
			}
		})
	}
}

func TestRunSignURLRejects(t *testing.T) {
	const rawURL = "https://files.example.com/files/a.txt"
	tests := []struct {
		name         string
		edit         func(a *signURLArgs)
		expiresInSet bool
		url          string // rawURL when empty
		wantErr      string
	}{
		{"key-id missing", func(a *signURLArgs) { a.keyID = "" }, false, "", "--key-id is missing"},
		{"secret-env missing", func(a *signURLArgs) { a.secretEnv = "" }, false, "", "--secret-env is missing"},
		{"secret variable not set", func(a *signURLArgs) { a.secretEnv = "AWRA_UNSET" }, false, "", "--secret-env AWRA_UNSET: the environment variable is empty or not set"},
		{"secret too short", func(a *signURLArgs) { a.secretEnv = "AWRA_SHORT" }, false, "", "secret of signing key 'k2026' is 31 bytes"},
		{"invalid key id", func(a *signURLArgs) { a.keyID = "K2026" }, false, "", "invalid signing key id 'K2026'"},
		{"method empty", func(a *signURLArgs) { a.method = "" }, false, "", "--method ''"},
		{"method with a space", func(a *signURLArgs) { a.method = "GET X" }, false, "", "--method 'GET X'"},
		{"method not a token", func(a *signURLArgs) { a.method = "GET/1" }, false, "", "invalid method 'GET/1'"},
		{"both expiry flags", func(a *signURLArgs) { a.expiresAt = "2026-01-02T00:00:00Z" }, true, "", "--expires-at and --expires-in both set"},
		{"expires-in without unit", func(a *signURLArgs) { a.expiresIn = "15" }, true, "", "--expires-in: invalid lifetime '15'"},
		{"expires-in negative", func(a *signURLArgs) { a.expiresIn = "-1h" }, true, "", "--expires-in: invalid lifetime '-1h'"},
		{"expires-in zero", func(a *signURLArgs) { a.expiresIn = "0s" }, true, "", "not in the future"},
		{"lifetime of 8 days", func(a *signURLArgs) { a.expiresIn = "8d" }, true, "", "exceeds the limit of 7 days"},
		{"lifetime one second over 7 days", func(a *signURLArgs) { a.expiresIn = "168h0m1s" }, true, "", "exceeds the limit of 7 days"},
		{"expires-at 8 days ahead", func(a *signURLArgs) { a.expiresAt = "2026-01-09T00:00:00Z" }, false, "", "exceeds the limit of 7 days"},
		{"expires-at in the past", func(a *signURLArgs) { a.expiresAt = "2025-12-31T23:59:59Z" }, false, "", "which is not in the future"},
		{"expires-at now", func(a *signURLArgs) { a.expiresAt = strconv.FormatInt(signURLNow.Unix(), 10) }, false, "", "which is not in the future"},
		{"expires-at malformed", func(a *signURLArgs) { a.expiresAt = "tomorrow" }, false, "", "--expires-at 'tomorrow'"},
		{"expires-at negative", func(a *signURLArgs) { a.expiresAt = "-5" }, false, "", "--expires-at '-5'"},
		{"relative URL", nil, false, "/files/a.txt", "use an absolute URL"},
		{"ftp URL", nil, false, "ftp://files.example.com/a.txt", "invalid scheme 'ftp'"},
		{"userinfo", nil, false, "https://user@files.example.com/a.txt", "remove the userinfo"},
		{"semicolon in the query", nil, false, rawURL + "?a=1;b=2", "';' at byte 3"},
		{"malformed escape", nil, false, rawURL + "?a=%zz", "malformed percent-escape"},
		{"already signed", nil, false, rawURL + "?X-Awra-Key-Id=k2026", "remove the X-Awra-* parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := signURLArgsFor()
			if tt.edit != nil {
				tt.edit(&a)
			}
			u := tt.url
			if u == "" {
				u = rawURL
			}
			var out bytes.Buffer
			err := runSignURL(&out, signURLEnv, signURLNow, a, tt.expiresInSet, u)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("runSignURL error = %v, want one containing %q", err, tt.wantErr)
			}
			if out.Len() != 0 {
				t.Errorf("output = %q, want nothing on error", out.String())
			}
			if strings.Contains(err.Error(), signURLTestSecret[:signedurl.MinSecretLength-1]) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

// executeSignURL runs 'awragate sign-url args...' in process through
// cobra, as caddycmd would, with the secret in AWRA_URL_KEY.
func executeSignURL(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	t.Setenv("AWRA_URL_KEY", signURLTestSecret)
	root := &cobra.Command{Use: "awragate", SilenceUsage: true, SilenceErrors: true}
	cmd := &cobra.Command{Use: "sign-url"}
	configureSignURLCommand(cmd)
	root.AddCommand(cmd)

	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"sign-url"}, args...))
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func TestSignURLCommandFlags(t *testing.T) {
	const u = "https://files.example.com/files/a.txt"
	base := []string{"--key-id", "k2026", "--secret-env", "AWRA_URL_KEY"}

	t.Run("expires-at with the default expires-in", func(t *testing.T) {
		at := time.Now().Add(time.Hour).Truncate(time.Second)
		stdout, stderr, err := executeSignURL(t, append(base, "--expires-at", at.UTC().Format(time.RFC3339), u)...)
		if err != nil {
			t.Fatalf("sign-url error: %v (stderr %q)", err, stderr)
		}
		res := verifySignedLine(t, stdout, "GET", time.Now())
		if !res.Allowed() || !res.Expires.Equal(at) {
			t.Errorf("printed URL: reason %q, expiry %s, want allowed with expiry %s", res.Reason, res.Expires, at)
		}
	})

	t.Run("explicit expires-in with expires-at", func(t *testing.T) {
		_, _, err := executeSignURL(t, append(base, "--expires-in", "15m", "--expires-at", "2030-01-01T00:00:00Z", u)...)
		if err == nil || !strings.Contains(err.Error(), "both set") {
			t.Errorf("sign-url error = %v, want one containing %q", err, "both set")
		}
	})

	t.Run("no URL", func(t *testing.T) {
		if _, _, err := executeSignURL(t, base...); err == nil {
			t.Error("sign-url without a URL succeeded, want an error")
		}
	})

	t.Run("two URLs", func(t *testing.T) {
		if _, _, err := executeSignURL(t, append(base, u, u)...); err == nil {
			t.Error("sign-url with two URLs succeeded, want an error")
		}
	})
}
