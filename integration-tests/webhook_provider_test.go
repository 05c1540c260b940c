package integrationtests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/internal/testredis"
)

// webhookSetup is one provider's gateway with four routes:
//
//	/hooks/main      the main secret
//	/hooks/rotation  two other secrets, as during a rotation
//	/hooks/limited   its own secret, max_deliveries 2
//	/hooks/sources   the main secret, source_cidrs 203.0.113.0/24
type webhookSetup struct {
	p        webhookProvider
	gw       *gateway
	up       *upstream
	secret   string
	rotation [2]string
	limited  string
}

func startWebhookSetup(t *testing.T, p webhookProvider, redisURL string) *webhookSetup {
	t.Helper()
	s := &webhookSetup{p: p, secret: p.newSecret(t), limited: p.newSecret(t)}
	s.rotation = [2]string{p.newSecret(t), p.newSecret(t)}
	mainEnv := secretEnv(t, s.secret)

	routes := webhookRoute(p, "/hooks/main", "{{.Upstream}}", []string{mainEnv}) +
		webhookRoute(p, "/hooks/rotation", "{{.Upstream}}", []string{secretEnv(t, s.rotation[0]), secretEnv(t, s.rotation[1])}) +
		webhookRoute(p, "/hooks/limited", "{{.Upstream}}", []string{secretEnv(t, s.limited)}, "max_deliveries 2") +
		webhookRoute(p, "/hooks/sources", "{{.Upstream}}", []string{mainEnv}, "source_cidrs 203.0.113.0/24")

	s.up = startUpstream(t)
	s.gw = startGateway(t, gatewayConfig{
		AwraOptions: "redis " + redisURL,
		Routes:      routes,
		Upstream:    s.up,
	})
	return s
}

// sign signs body with secret at stamp and a fresh id.
func (s *webhookSetup) sign(t *testing.T, secret, stamp string, body []byte) http.Header {
	t.Helper()
	return s.p.sign(secret, stamp, newMessageID(t), body)
}

// signNow signs body with the main secret now.
func (s *webhookSetup) signNow(t *testing.T, body []byte) http.Header {
	t.Helper()
	return s.sign(t, s.secret, stampAt(time.Now()), body)
}

// expectForwarded posts a delivery and checks that the upstream received
// it unchanged and its response reached the client.
func (s *webhookSetup) expectForwarded(t *testing.T, name, path string, header http.Header, body []byte, opts ...postOptions) {
	t.Helper()
	before := s.up.count()
	resp := postWebhook(t, s.gw, path, header, body, opts...)
	checkAllowed(t, name, resp)
	if got := s.up.count(); got != before+1 {
		t.Fatalf("%s: upstream requests = %d, want %d", name, got, before+1)
	}
	checkForwarded(t, name, s.up, body, header)
}

// expectDenied posts a delivery and checks the problem and that the
// upstream received nothing. It returns the problem.
func (s *webhookSetup) expectDenied(t *testing.T, name, path string, header http.Header, body []byte, status int, reason string, opts ...postOptions) problem {
	t.Helper()
	before := s.up.count()
	resp := postWebhook(t, s.gw, path, header, body, opts...)
	p := checkProblem(t, name, resp, status, reason)
	if got := s.up.count(); got != before {
		t.Errorf("%s: upstream requests = %d, want %d (not forwarded)", name, got, before)
	}
	return p
}

func TestWebhookProviders(t *testing.T) {
	t.Parallel()
	redisServer := testredis.Start(t)
	for _, p := range webhookProviders {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			s := startWebhookSetup(t, p, redisServer.URL())
			t.Run("bodies", func(t *testing.T) { testWebhookBodies(t, s) })
			t.Run("headers", func(t *testing.T) { testWebhookHeaders(t, s) })
			if p.timestamped {
				t.Run("timestamps", func(t *testing.T) { testWebhookTimestamps(t, s) })
			}
			t.Run("rotation", func(t *testing.T) { testWebhookRotation(t, s) })
			t.Run("replays and retries", func(t *testing.T) { testWebhookReplays(t, s) })
			t.Run("source networks", func(t *testing.T) { testWebhookSources(t, s) })
		})
	}
}

func testWebhookBodies(t *testing.T, s *webhookSetup) {
	t.Run("signed by the CLI, forwarded byte for byte", func(t *testing.T) {
		body := newWebhookBody(t, "charge.success")
		env := secretEnv(t, s.secret)
		var id string
		if s.p.idHeader != "" || s.p.name == "github" || s.p.name == "shopify" {
			id = newMessageID(t)
		}
		s.expectForwarded(t, "CLI-signed delivery", "/hooks/main", signWithCLI(t, s.p, env, "", id, body), body)
		if got := s.up.last(t).Header.Get("X-Awra-Webhook-Provider"); got != s.p.name {
			t.Errorf("upstream X-Awra-Webhook-Provider = %q, want %q", got, s.p.name)
		}
	})

	tests := []struct {
		name    string
		body    []byte
		chunked bool
	}{
		{"chunked, forwarded with Content-Length", newWebhookBody(t, "chunked"), true},
		{"multi-byte UTF-8", fmt.Appendf(nil, `{"name":"Zoë Ådéwálé","note":"日本語 ✓ 🎉","n":%q}`, randomText(t, 6)), false},
		{"invalid UTF-8", fmt.Appendf(nil, "{\"raw\":\"\xff\xfe\xc3\x28\xed\xa0\x80\",\"n\":%q}\r\n", randomText(t, 6)), false},
		{"NUL bytes and trailing newline", fmt.Appendf(nil, "%s\x00\x00\n", newWebhookBody(t, "nul")), false},
		{"empty", []byte{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.expectForwarded(t, tt.name, "/hooks/main", s.signNow(t, tt.body), tt.body, postOptions{chunked: tt.chunked})
		})
	}

	t.Run("one byte changed", func(t *testing.T) {
		body := newWebhookBody(t, "tampered")
		header := s.signNow(t, body)
		changed := bytes.Replace(body, []byte("12500"), []byte("12501"), 1)
		s.expectDenied(t, "delivery with one byte changed", "/hooks/main", header, changed, 401, "signature_invalid")
	})
	t.Run("same JSON re-serialized", func(t *testing.T) {
		body := newWebhookBody(t, "reformatted")
		header := s.signNow(t, body)
		var indented bytes.Buffer
		if err := json.Indent(&indented, body, "", "  "); err != nil {
			t.Fatal(err)
		}
		s.expectDenied(t, "re-serialized delivery", "/hooks/main", header, indented.Bytes(), 401, "signature_invalid")
	})
	t.Run("wrong secret, audited", func(t *testing.T) {
		body := newWebhookBody(t, "forged")
		wrong := s.p.newSecret(t)
		p := s.expectDenied(t, "delivery signed with a wrong secret", "/hooks/main", s.sign(t, wrong, stampAt(time.Now()), body), body, 401, "signature_invalid")
		checkDenialLogged(t, s.gw, p.RequestID, s.p.name, "signature_invalid")
	})
}

// checkDenialLogged finds the decision of requestID in the gateway log.
func checkDenialLogged(t *testing.T, gw *gateway, requestID, provider, reason string) {
	t.Helper()
	for _, e := range gw.logEntries(t) {
		if e.str("request_id") != requestID {
			continue
		}
		if e.str("msg") != "request denied" || e.str("module") != "webhook" || e.str("provider") != provider || e.str("reason") != reason {
			t.Errorf("log entry of %s = %v, want a webhook denial of provider %s with reason %s", requestID, e, provider, reason)
		}
		return
	}
	t.Errorf("no gateway log entry has request_id %s", requestID)
}

// headerCase changes the headers of a valid delivery.
type headerCase struct {
	name   string
	change func(h http.Header)
	reason string
}

func testWebhookHeaders(t *testing.T, s *webhookSetup) {
	sig := s.p.signatureHeader
	cases := []headerCase{
		{"signature missing", func(h http.Header) { delete(h, sig) }, "signature_missing"},
		{"signature empty", func(h http.Header) { h[sig] = []string{""} }, "signature_missing"},
		{"signature sent twice", func(h http.Header) { h[sig] = []string{h[sig][0], h[sig][0]} }, "signature_invalid"},
		{"signature truncated", func(h http.Header) { h[sig] = []string{h[sig][0][:len(h[sig][0])-2]} }, "signature_invalid"},
		{"signature in upper case", func(h http.Header) { h[sig] = []string{strings.ToUpper(h[sig][0])} }, "signature_invalid"},
		{"signature garbage", func(h http.Header) { h[sig] = []string{"not a signature"} }, "signature_invalid"},
	}
	if ts := s.p.timestampHeader; ts != "" {
		cases = append(cases,
			headerCase{"timestamp missing", func(h http.Header) { delete(h, ts) }, "signature_missing"},
			headerCase{"timestamp empty", func(h http.Header) { h[ts] = []string{""} }, "signature_missing"},
			headerCase{"timestamp sent twice", func(h http.Header) { h[ts] = []string{h[ts][0], h[ts][0]} }, "signature_invalid"},
			headerCase{"timestamp with a sign", func(h http.Header) { h[ts] = []string{"+" + h[ts][0][1:]} }, "signature_invalid"},
			headerCase{"timestamp of 9 digits", func(h http.Header) { h[ts] = []string{h[ts][0][1:]} }, "signature_invalid"},
			headerCase{"timestamp with a fraction", func(h http.Header) { h[ts] = []string{h[ts][0][:9] + ".5"} }, "signature_invalid"},
		)
	}
	if s.p.name == "stripe" {
		cases = append(cases,
			headerCase{"stripe without t", func(h http.Header) { h[sig] = []string{dropItem(h[sig][0], "t=")} }, "signature_invalid"},
			headerCase{"stripe without v1", func(h http.Header) { h[sig] = []string{dropItem(h[sig][0], "v1=")} }, "signature_invalid"},
			headerCase{"stripe t twice", func(h http.Header) { h[sig] = []string{"t=1700000000," + h[sig][0]} }, "signature_invalid"},
			headerCase{"stripe t not digits", func(h http.Header) { h[sig] = []string{"t=abc," + dropItem(h[sig][0], "t=")} }, "signature_invalid"},
			headerCase{"stripe v0 only", func(h http.Header) { h[sig] = []string{strings.Replace(h[sig][0], "v1=", "v0=", 1)} }, "signature_invalid"},
		)
	}
	if id := s.p.idHeader; id != "" {
		cases = append(cases,
			headerCase{"id missing", func(h http.Header) { delete(h, id) }, "signature_missing"},
			headerCase{"id sent twice", func(h http.Header) { h[id] = []string{h[id][0], h[id][0]} }, "signature_invalid"},
			headerCase{"id changed", func(h http.Header) { h[id] = []string{h[id][0] + "x"} }, "signature_invalid"},
		)
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := newWebhookBody(t, "headers")
			h := s.signNow(t, body)
			tc.change(h)
			s.expectDenied(t, tc.name, "/hooks/main", h, body, 401, tc.reason)
		})
	}
}

// dropItem removes the comma-separated item that starts with prefix.
func dropItem(value, prefix string) string {
	var kept []string
	for item := range strings.SplitSeq(value, ",") {
		if !strings.HasPrefix(item, prefix) {
			kept = append(kept, item)
		}
	}
	return strings.Join(kept, ",")
}

func testWebhookTimestamps(t *testing.T, s *webhookSetup) {
	tests := []struct {
		name    string
		stamp   func() string
		allowed bool
	}{
		{"301 s old", func() string { return stampOffset(-301, true) }, false},
		{"299 s old", func() string { return stampOffset(-299, false) }, true},
		{"299 s ahead", func() string { return stampOffset(299, false) }, true},
		{"301 s ahead", func() string { return stampOffset(301, true) }, false},
		{"milliseconds", func() string { return fmt.Sprint(time.Now().UnixMilli()) }, false},
		{"far past", func() string { return "1000000000" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := newWebhookBody(t, "timestamp")
			h := s.sign(t, s.secret, tt.stamp(), body)
			if tt.allowed {
				s.expectForwarded(t, tt.name, "/hooks/main", h, body)
				return
			}
			s.expectDenied(t, tt.name, "/hooks/main", h, body, 401, "timestamp_out_of_tolerance")
		})
	}

	t.Run("CLI --timestamp 299 s old", func(t *testing.T) {
		body := newWebhookBody(t, "cli-timestamp")
		var id string
		if s.p.idHeader != "" {
			id = newMessageID(t)
		}
		h := signWithCLI(t, s.p, secretEnv(t, s.secret), stampOffset(-299, false), id, body)
		s.expectForwarded(t, "CLI delivery 299 s old", "/hooks/main", h, body)
	})
}

func testWebhookRotation(t *testing.T, s *webhookSetup) {
	for i, secret := range s.rotation {
		t.Run(fmt.Sprintf("secret %d alone", i+1), func(t *testing.T) {
			body := newWebhookBody(t, "rotation")
			s.expectForwarded(t, "delivery signed with one rotation secret", "/hooks/rotation", s.sign(t, secret, stampAt(time.Now()), body), body)
		})
	}
	t.Run("neither secret", func(t *testing.T) {
		body := newWebhookBody(t, "rotation")
		s.expectDenied(t, "delivery signed with another secret", "/hooks/rotation", s.signNow(t, body), body, 401, "signature_invalid")
	})
}

func testWebhookReplays(t *testing.T, s *webhookSetup) {
	if s.p.timestamped {
		t.Run("same signed bytes twice", func(t *testing.T) {
			body := newWebhookBody(t, "replay")
			h := s.signNow(t, body)
			s.expectForwarded(t, "first delivery", "/hooks/main", h, body)
			s.expectDenied(t, "replayed delivery", "/hooks/main", h, body, 409, "webhook_replayed")
		})
	}

	t.Run("delivered event again", func(t *testing.T) {
		body := newWebhookBody(t, "duplicate")
		id := newMessageID(t)
		first := s.p.sign(s.secret, stampAt(time.Now().Add(-10*time.Second)), id, body)
		s.expectForwarded(t, "first delivery", "/hooks/main", first, body)

		// A provider retry is signed anew; without a timestamp it is the
		// same bytes.
		again := s.p.sign(s.secret, stampAt(time.Now()), id, body)
		before := s.up.count()
		checkDuplicateAnswer(t, "delivered event again", postWebhook(t, s.gw, "/hooks/main", again, body))
		if got := s.up.count(); got != before {
			t.Errorf("upstream requests = %d, want %d (duplicate not forwarded)", got, before)
		}
	})

	t.Run("retry after upstream 500", func(t *testing.T) {
		body := newWebhookBody(t, "retry")
		h := s.signNow(t, body)
		s.up.setResponse(upstreamResponse{Status: http.StatusInternalServerError, Body: []byte("upstream failed")})
		resp := postWebhook(t, s.gw, "/hooks/main", h, body)
		s.up.setResponse(defaultUpstreamResponse())
		if resp.Status != http.StatusInternalServerError {
			t.Fatalf("delivery to a failing upstream = %s, want the upstream's 500", resp.describe())
		}
		s.expectForwarded(t, "the same delivery again", "/hooks/main", h, body)
	})

	t.Run("deliveries beyond max_deliveries", func(t *testing.T) {
		body := newWebhookBody(t, "limit")
		h := s.sign(t, s.limited, stampAt(time.Now()), body)
		s.up.setResponse(upstreamResponse{Status: http.StatusServiceUnavailable, Body: []byte("try later")})
		defer s.up.setResponse(defaultUpstreamResponse())
		for attempt := 1; attempt <= 2; attempt++ {
			if resp := postWebhook(t, s.gw, "/hooks/limited", h, body); resp.Status != http.StatusServiceUnavailable {
				t.Fatalf("attempt %d = %s, want the upstream's 503", attempt, resp.describe())
			}
		}
		s.expectDenied(t, "attempt 3", "/hooks/limited", h, body, 429, "retry_limit_exceeded")
	})
}

func testWebhookSources(t *testing.T, s *webhookSetup) {
	t.Run("peer outside source_cidrs", func(t *testing.T) {
		body := newWebhookBody(t, "source")
		s.expectDenied(t, "delivery from 127.0.0.1", "/hooks/sources", s.signNow(t, body), body, 403, "source_ip_not_allowed")
	})
	t.Run("spoofed X-Forwarded-For from an untrusted peer", func(t *testing.T) {
		body := newWebhookBody(t, "source")
		h := s.signNow(t, body)
		h.Set("X-Forwarded-For", "203.0.113.9")
		s.expectDenied(t, "delivery naming an allowed address", "/hooks/sources", h, body, 403, "source_ip_not_allowed")
	})
	t.Run("client inside through the trusted proxy", func(t *testing.T) {
		body := newWebhookBody(t, "source")
		h := s.signNow(t, body)
		h.Set("X-Forwarded-For", "203.0.113.9")
		s.expectForwarded(t, "delivery from 203.0.113.9", "/hooks/sources", h, body, postOptions{client: clientFrom(t, trustedProxyIP)})
	})
}
