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
const signatureLogFilter = "request>uri regexp X-Awra-Signature=[^&]* X-Awra-Signature=REDACTED"

// accessLogRoutes puts an access log in file on signedURLRoutes(key). With
// filtered, the log has the filters of Caddyfile.example plus
// signatureLogFilter.
func accessLogRoutes(key urlKey, file string, filtered bool) string {
	format := "json"
	if filtered {
		format = "filter {\n\t\t\trequest>headers>X-Api-Key delete" +
			"\n\t\t\trequest>uri regexp awra_[a-z0-9-]+_[A-Za-z0-9]+ awra_REDACTED" +
			"\n\t\t\t" + signatureLogFilter + "\n\t\t}"
	}
	return "log {\n\t\toutput file " + file + "\n\t\tformat " + format + "\n\t}\n\t" + signedURLRoutes(key)
}

// TestSignedURLAccessLog checks what Caddy's access log records of a signed
// link: the whole URI, signature included, unless the log filters it out.
func TestSignedURLAccessLog(t *testing.T) {
	t.Parallel()
	key := newURLKey(t, "k-log")

	for _, filtered := range []bool{true, false} {
		name := "unfiltered"
		if filtered {
			name = "filtered"
		}
		t.Run(name, func(t *testing.T) {
			// The file is in the suite directory, so the end-of-suite
			// secret scan can still read it.
			file := filepath.Join(suite.dir, fileSafe(t.Name())+"-access.log")
			up := startUpstream(t)
			gw := startGateway(t, gatewayConfig{Routes: accessLogRoutes(key, file, filtered), Upstream: up})
			watchLogFile(file)
			host := gw.addr()

			allowed := mintURL(t, key, http.MethodGet, host, "/files/report.pdf?x=1", urlExpiresSoon())
			checkAllowed(t, "GET a signed link", rawGet(t, host, allowed, nil))
			denied := mintURL(t, key, http.MethodDelete, host, "/files/report.pdf?x=2", urlExpiresSoon())
			checkProblem(t, "GET a DELETE link", rawGet(t, host, denied, nil), http.StatusForbidden, "url_signature_invalid")

			log := waitForAccessLog(t, file, 2)
			if !strings.Contains(log, signedurl.ParamKeyID+"="+key.ID) {
				t.Errorf("access log does not contain %s=%s; log:\n%s", signedurl.ParamKeyID, key.ID, redact(log))
			}
			if filtered && strings.Count(log, "X-Awra-Signature=REDACTED") < 2 {
				t.Errorf("access log has fewer than 2 redacted signatures; log:\n%s", redact(log))
			}
			for _, link := range []string{allowed, denied} {
				sig := urlParam(link, signedurl.ParamSignature)
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
