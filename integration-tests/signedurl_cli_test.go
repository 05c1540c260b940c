package integrationtests

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy/signedurl"
)

// Environment variables of the sign-url error cases: one that no test
// sets, and one that only the command run for the short-secret case gets.
const (
	unsetSecretEnv = "AWRA_IT_URL_SECRET_NEVER_SET"
	shortSecretEnv = "AWRA_IT_URL_SECRET_SHORT"
)

// runURLCommand runs name with args and the extra environment variables, and
// returns its standard output, standard error and exit code. Callers redact
// the output before they print it.
func runURLCommand(t *testing.T, env []string, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", filepath.Base(name), err)
	}
	return out.String(), errOut.String(), code
}

// signedURLTarget checks that stdout is exactly one line containing an
// absolute URL on host, and returns its path and query.
func signedURLTarget(t *testing.T, stdout, host string) string {
	t.Helper()
	line, ok := strings.CutSuffix(stdout, "\n")
	if !ok || strings.Contains(line, "\n") {
		t.Fatalf("stdout = %q, want exactly one line with the signed URL", redact(stdout))
	}
	target, ok := strings.CutPrefix(line, "http://"+host)
	if !ok || !strings.HasPrefix(target, "/") {
		t.Fatalf("stdout = %q, want a URL starting with http://%s/", redact(line), host)
	}
	return target
}

func TestSignURLCommand(t *testing.T) {
	t.Parallel()
	key := newURLKey(t, "k-cli")
	gw, up := startSignedURLGateway(t, key)
	host := gw.addr()
	sign := func(t *testing.T, args ...string) (string, string, int) {
		t.Helper()
		return runURLCommand(t, nil, suite.binary, append([]string{"sign-url", "--key-id", key.ID, "--secret-env", key.EnvName}, args...)...)
	}

	t.Run("link verifies through the gateway", func(t *testing.T) {
		const path = "/files/exports/q1%20report%7efinal.csv"
		const query = "b=1+2&a=%20x&c=%c3%a9&tag=b&tag=a"
		stdout, stderr, code := sign(t, "--expires-in", "10m", "http://"+host+path+"?"+query)
		if code != 0 {
			t.Fatalf("sign-url exit code = %d, want 0; stderr: %s", code, redact(stderr))
		}
		target := signedURLTarget(t, stdout, host)

		checkAllowed(t, "GET the sign-url link", rawGet(t, host, target, nil))
		if got, want := up.last(t).RequestURI, path+"?"+query; got != want {
			t.Errorf("upstream request URI = %q, want %q", got, want)
		}
	})

	t.Run("method flag binds the link", func(t *testing.T) {
		stdout, stderr, code := sign(t, "--method", "delete", "http://"+host+"/files/old.pdf")
		if code != 0 {
			t.Fatalf("sign-url exit code = %d, want 0; stderr: %s", code, redact(stderr))
		}
		target := signedURLTarget(t, stdout, host)
		checkAllowed(t, "DELETE with a --method delete link", rawURLRequest(t, host, http.MethodDelete, host, target, nil))

		before := up.count()
		resp := rawGet(t, host, target, nil)
		checkURLDenied(t, "GET with a DELETE link", resp, up, before, target, "url_signature_invalid")
	})

	t.Run("expires-at sets X-Awra-Expires", func(t *testing.T) {
		at := time.Now().Add(20 * time.Minute).Truncate(time.Second).UTC()
		for _, value := range []string{at.Format(time.RFC3339), strconv.FormatInt(at.Unix(), 10)} {
			stdout, stderr, code := sign(t, "--expires-at", value, "http://"+host+"/files/a.txt")
			if code != 0 {
				t.Fatalf("sign-url --expires-at %s exit code = %d, want 0; stderr: %s", value, code, redact(stderr))
			}
			target := signedURLTarget(t, stdout, host)
			if got, want := urlParam(target, signedurl.ParamExpires), strconv.FormatInt(at.Unix(), 10); got != want {
				t.Errorf("sign-url --expires-at %s: X-Awra-Expires = %s, want %s", value, got, want)
			}
			checkAllowed(t, "GET an --expires-at link", rawGet(t, host, target, nil))
		}
	})

	t.Run("seven-day link exceeds the route's max_ttl", func(t *testing.T) {
		stdout, stderr, code := sign(t, "--expires-in", "7d", "http://"+host+"/files/a.txt")
		if code != 0 {
			t.Fatalf("sign-url --expires-in 7d exit code = %d, want 0; stderr: %s", code, redact(stderr))
		}
		target := signedURLTarget(t, stdout, host)
		before := up.count()
		checkURLDenied(t, "GET a 7-day link", rawGet(t, host, target, nil), up, before, target, "url_ttl_too_long")
	})

	// shortSecret is a prefix of the key's secret, so the check that
	// stderr does not contain it also covers the whole secret.
	shortSecret := string(key.Secret[:31])
	now := time.Now()
	tests := []struct {
		name    string
		env     []string
		args    []string
		wantErr string // a part of the error message
	}{
		{"secret variable not set", nil,
			[]string{"--key-id", key.ID, "--secret-env", unsetSecretEnv, "http://" + host + "/files/a.txt"}, "--secret-env " + unsetSecretEnv},
		{"secret-env flag missing", nil,
			[]string{"--key-id", key.ID, "http://" + host + "/files/a.txt"}, "--secret-env is missing"},
		{"key-id flag missing", nil,
			[]string{"--secret-env", key.EnvName, "http://" + host + "/files/a.txt"}, "--key-id is missing"},
		{"secret too short", []string{shortSecretEnv + "=" + shortSecret},
			[]string{"--key-id", key.ID, "--secret-env", shortSecretEnv, "http://" + host + "/files/a.txt"}, "is 31 bytes"},
		{"lifetime of 8 days", nil,
			[]string{"--key-id", key.ID, "--secret-env", key.EnvName, "--expires-in", "8d", "http://" + host + "/files/a.txt"}, "exceeds the limit of 7 days"},
		{"lifetime one second over 7 days", nil,
			[]string{"--key-id", key.ID, "--secret-env", key.EnvName, "--expires-in", "168h0m1s", "http://" + host + "/files/a.txt"}, "exceeds the limit of 7 days"},
		{"expires-at 8 days ahead", nil,
			[]string{"--key-id", key.ID, "--secret-env", key.EnvName, "--expires-at", strconv.FormatInt(now.Add(8*24*time.Hour).Unix(), 10), "http://" + host + "/files/a.txt"}, "exceeds the limit of 7 days"},
		{"expires-at in the past", nil,
			[]string{"--key-id", key.ID, "--secret-env", key.EnvName, "--expires-at", "2020-01-01T00:00:00Z", "http://" + host + "/files/a.txt"}, "not in the future"},
		{"expires-at a second ago", nil,
			[]string{"--key-id", key.ID, "--secret-env", key.EnvName, "--expires-at", strconv.FormatInt(now.Add(-time.Second).Unix(), 10), "http://" + host + "/files/a.txt"}, "not in the future"},
		{"expires-at and expires-in", nil,
			[]string{"--key-id", key.ID, "--secret-env", key.EnvName, "--expires-in", "1h", "--expires-at", "2030-01-01T00:00:00Z", "http://" + host + "/files/a.txt"}, "both set"},
		{"semicolon in the query", nil,
			[]string{"--key-id", key.ID, "--secret-env", key.EnvName, "http://" + host + "/files/a.txt?a=1;b=2"}, "';'"},
		{"relative URL", nil,
			[]string{"--key-id", key.ID, "--secret-env", key.EnvName, "/files/a.txt"}, "absolute URL"},
		{"URL already signed", nil,
			[]string{"--key-id", key.ID, "--secret-env", key.EnvName, "http://" + host + "/files/a.txt?X-Awra-Expires=1796417586"}, "X-Awra-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runURLCommand(t, tt.env, suite.binary, append([]string{"sign-url"}, tt.args...)...)
			if code == 0 {
				t.Errorf("sign-url exit code = 0, want non-zero; stdout: %s", redact(stdout))
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing on error", redact(stdout))
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", redact(stderr), tt.wantErr)
			}
			if strings.Contains(stderr, shortSecret) {
				t.Error("stderr contains the secret or a part of it")
			}
		})
	}
}

// TestSignedURLFromOtherSigners sends links minted by the standalone
// Python and JavaScript signers in policy/signedurl/testdata, and by the
// signers in the documentation, through the gateway.
func TestSignedURLFromOtherSigners(t *testing.T) {
	t.Parallel()
	key := newURLKey(t, "k-scripts")
	gw, up := startSignedURLGateway(t, key)
	host := gw.addr()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}

	const path = "/files/exports/q1%20report%7efinal.csv"
	const query = "b=1+2&a=%20x&c=%c3%a9&tag=b&tag=a&empty="

	// signWith runs script, which takes the arguments of testdata/signer.py,
	// and sends the link it prints.
	signWith := func(t *testing.T, name, interpreter, script string) {
		t.Helper()
		expires := strconv.FormatInt(urlExpiresSoon().Unix(), 10)
		stdout, stderr, code := runURLCommand(t, []string{"AWRA_URL_SECRET=" + string(key.Secret)},
			interpreter, script, http.MethodGet, "http://"+host+path+"?"+query, key.ID, expires)
		if code != 0 {
			t.Fatalf("%s exit code = %d, want 0; stderr: %s", name, code, redact(stderr))
		}
		target := signedURLTarget(t, stdout, host)

		checkAllowed(t, "GET a link from "+name, rawGet(t, host, target, nil))
		if got, want := up.last(t).RequestURI, path+"?"+query; got != want {
			t.Errorf("upstream request URI = %q, want %q", got, want)
		}
	}

	for _, signer := range []struct{ interpreter, script string }{
		{"python3", "signer.py"},
		{"node", "signer.js"},
	} {
		t.Run(signer.script, func(t *testing.T) {
			interpreter, err := exec.LookPath(signer.interpreter)
			if err != nil {
				t.Skipf("%s is not installed, so %s cannot be run: %v", signer.interpreter, signer.script, err)
			}
			signWith(t, signer.script, interpreter, filepath.Join(root, "policy", "signedurl", "testdata", signer.script))
		})
	}

	for _, d := range signedURLDocs(t) {
		for _, language := range []string{"python", "javascript"} {
			t.Run(d.path+"/"+language, func(t *testing.T) {
				interpreter, script, _ := writeDocSigner(t, d, language)
				signWith(t, "the "+language+" signer of "+d.path, interpreter, script)
			})
		}
	}
}
