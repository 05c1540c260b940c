package integrationtests

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy/signedurl"
)

// signatureLogFilter is the access log filter line that the signed-URL
// documentation gives. It sits beside the API key filter of
// Caddyfile.example, because Caddy merges several regexp filters on one
// field but rejects a regexp filter mixed with another filter type.
const signatureLogFilter = `request>uri regexp "((?:X|%58)(?:-|%2[Dd])(?:A|%41)(?:w|%77)(?:r|%72)(?:a|%61)(?:-|%2[Dd])(?:S|%53)(?:i|%69)(?:g|%67)(?:n|%6[Ee])(?:a|%61)(?:t|%74)(?:u|%75)(?:r|%72)(?:e|%65)=)[^&]*" "${1}REDACTED"`

// accessLogRoutes puts an access log in file on signedURLRoutes(key). The
// filter "docs" gives the log the API key filters plus signatureLogFilter.
// The filter "example" gives it the uri filter line of Caddyfile.example,
// which covers both, and "" gives it no filter.
func accessLogRoutes(t *testing.T, key urlKey, file, filter string) string {
	format := "json"
	switch filter {
	case "docs":
		format = "filter {\n\t\t\trequest>headers>X-Api-Key delete" +
			"\n\t\t\trequest>uri regexp awra_[a-z0-9-]+_[A-Za-z0-9]+ awra_REDACTED" +
			"\n\t\t\t" + signatureLogFilter + "\n\t\t}"
	case "example":
		format = "filter {\n\t\t\t" + exampleURIFilter(t) + "\n\t\t}"
	}
	return "log {\n\t\toutput file " + file + "\n\t\tformat " + format + "\n\t}\n\t" + signedURLRoutes(key)
}

// exampleURIFilter returns the request>uri filter line of Caddyfile.example.
func exampleURIFilter(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "Caddyfile.example"))
	if err != nil {
		t.Fatalf("reading Caddyfile.example: %v", err)
	}
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "request>uri regexp ") {
			return line
		}
	}
	t.Fatal("Caddyfile.example has no request>uri regexp line")
	return ""
}

// TestSignedURLAccessLog checks what Caddy's access log records of a signed
// link: the whole URI, signature included, unless the log filters it out.
func TestSignedURLAccessLog(t *testing.T) {
	t.Parallel()
	key := newURLKey(t, "k-log")

	for _, filter := range []string{"docs", "example", ""} {
		name, filtered := "filtered-"+filter, filter != ""
		if !filtered {
			name = "unfiltered"
		}
		t.Run(name, func(t *testing.T) {
			// The file is in the suite directory, so the end-of-suite
			// secret scan can still read it.
			file := filepath.Join(suite.dir, fileSafe(t.Name())+"-access.log")
			up := startUpstream(t)
			gw := startGateway(t, gatewayConfig{Routes: accessLogRoutes(t, key, file, filter), Upstream: up})
			watchLogFile(file)
			host := gw.addr()

			allowed := mintURL(t, key, http.MethodGet, host, "/files/report.pdf?x=1", urlExpiresSoon())
			checkAllowed(t, "GET a signed link", rawGet(t, host, allowed, nil))
			denied := mintURL(t, key, http.MethodDelete, host, "/files/report.pdf?x=2", urlExpiresSoon())
			checkProblem(t, "GET a DELETE link", rawGet(t, host, denied, nil), http.StatusForbidden, "url_signature_invalid")
			// The gateway reads a percent-encoded parameter name as the
			// decoded one, so the filter must catch this spelling too.
			encodedName := mintURL(t, key, http.MethodGet, host, "/files/report.pdf?x=3", urlExpiresSoon())
			encodedName = strings.Replace(encodedName, signedurl.ParamSignature+"=", "X%2DAwra-Signatur%65=", 1)
			checkAllowed(t, "GET a link with an encoded signature name", rawGet(t, host, encodedName, nil))

			log := waitForAccessLog(t, file, 3)
			if !strings.Contains(log, signedurl.ParamKeyID+"="+key.ID) {
				t.Errorf("access log does not contain %s=%s; log:\n%s", signedurl.ParamKeyID, key.ID, redact(log))
			}
			if filtered && strings.Count(log, "X-Awra-Signature=REDACTED") < 2 {
				t.Errorf("access log has fewer than 2 redacted signatures; log:\n%s", redact(log))
			}
			if filtered && !strings.Contains(log, "X%2DAwra-Signatur%65=REDACTED") {
				t.Errorf("access log does not redact the signature under its encoded name; log:\n%s", redact(log))
			}
			for _, link := range []string{allowed, denied, encodedName} {
				sig := urlParam(strings.Replace(link, "X%2DAwra-Signatur%65=", signedurl.ParamSignature+"=", 1), signedurl.ParamSignature)
				if got := strings.Contains(log, sig); got == filtered {
					t.Errorf("access log contains the signature = %t, want %t", got, !filtered)
				}
			}
		})
	}
}

// waitForAccessLog polls file until it has at least n lines, for up to 5
// seconds, and returns its content.
func waitForAccessLog(t *testing.T, file string, n int) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(file)
		if strings.Count(string(data), "\n") >= n {
			return string(data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log has %d lines after 5s, want %d", strings.Count(string(data), "\n"), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
