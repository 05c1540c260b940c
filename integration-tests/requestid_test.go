package integrationtests

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// request_id_header sends the request id upstream in a header of the
// operator's choice; without it, or with off, none is sent. The gateway
// replaces a header of that name sent by the client, and removes a forged
// X-Awra-Request-Id unless that is the chosen name.
func TestRequestIDHeaderOption(t *testing.T) {
	t.Parallel()
	reader := newTestKey(t, "reader")
	for _, tt := range []struct {
		name, option, header string
	}{
		{"default", "", ""},
		{"off", "request_id_header off", ""},
		{"framework name", "request_id_header X-Request-Id", "X-Request-Id"},
		{"gateway name", "request_id_header x-awra-request-id", "X-Awra-Request-Id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keysFile := filepath.Join(t.TempDir(), "keys.json")
			writeKeysFile(t, keysFile, reader)
			up := startUpstream(t)
			gw := startGateway(t, gatewayConfig{KeysFile: keysFile, Routes: apiKeyRoutes, Upstream: up, AwraOptions: tt.option})
			c := clientFrom(t, "")

			// A denial shows the id format of this gateway process: a
			// per-process prefix, a dash and a counter.
			denied := checkProblem(t, "GET without a key", get(t, c, gw.url("/api/inventory/items"), nil),
				http.StatusUnauthorized, "key_missing")
			prefix, _, ok := strings.Cut(denied.RequestID, "-")
			if !ok {
				t.Fatalf("denial request_id = %q, want prefix-counter", denied.RequestID)
			}

			h := bearer(reader.Token)
			h["X-Request-Id"] = []string{"client-chosen"}
			h["X-Awra-Request-Id"] = []string{"forged"}
			checkAllowed(t, "GET with a key", get(t, c, gw.url("/api/inventory/items"), h))
			got := up.last(t)

			if v, ok := got.Header["X-Awra-Request-Id"]; ok && tt.header != "X-Awra-Request-Id" {
				t.Errorf("upstream X-Awra-Request-Id = %q, want none", v)
			}
			if tt.header != "X-Request-Id" {
				// Not the gateway's header, so it passes through untouched.
				if v := got.Header.Values("X-Request-Id"); len(v) != 1 || v[0] != "client-chosen" {
					t.Errorf("upstream X-Request-Id = %q, want the client's [client-chosen]", v)
				}
			}
			if tt.header != "" {
				v := got.Header.Values(tt.header)
				if len(v) != 1 || !strings.HasPrefix(v[0], prefix+"-") || v[0] == denied.RequestID {
					t.Errorf("upstream %s = %q, want one new request id starting %q", tt.header, v, prefix+"-")
				}
			}
		})
	}
}

// A header name the gateway or the protocol needs stops the config from
// loading, with an error that names it.
func TestRequestIDHeaderReserved(t *testing.T) {
	t.Parallel()
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	writeKeysFile(t, keysFile, newTestKey(t, "reader"))
	code, log := runGatewayUntilExit(t, gatewayConfig{KeysFile: keysFile, Routes: apiKeyRoutes, AwraOptions: "request_id_header X-Awra-Scopes"}, 20*time.Second)
	if code == 0 {
		t.Fatal("awragate run with request_id_header X-Awra-Scopes exited 0, want an error")
	}
	if !strings.Contains(log, "request_id_header: 'X-Awra-Scopes' is reserved") {
		t.Fatalf("log does not name the reserved header; log:\n%s", log)
	}
}

// A handler option naming the request id header stops the config from
// loading, with an error that names the option.
func TestRequestIDHeaderHandlerClash(t *testing.T) {
	t.Parallel()
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	writeKeysFile(t, keysFile, newTestKey(t, "reader"))
	secretVar := secretEnv(t, rawSecret("whsec_")(t))
	for _, tt := range []struct {
		name, route, wantLog string
	}{
		{
			name:    "api key header",
			route:   "handle /api/* {\n\tawra_api_key {\n\t\tscopes inventory:read\n\t\theader x-request-id\n\t}\n\treverse_proxy {{.Upstream}}\n}",
			wantLog: "awra_api_key: header 'x-request-id' is also the request_id_header of the awra global option",
		},
		{
			name: "webhook timestamp header",
			route: "handle /hooks/* {\n\tawra_webhook hmac {\n\t\tsecret {env." + secretVar + "}\n\t\theader X-Signature\n" +
				"\t\talgorithm sha256\n\t\tencoding hex\n\t\ttimestamp_header X-Request-Id\n\t\ttemplate {timestamp}.{body}\n\t}\n\trespond 204\n}",
			wantLog: "awra_webhook: timestamp_header 'X-Request-Id' is also the request_id_header of the awra global option",
		},
		{
			name: "signed URL key id header",
			route: "handle /files/* {\n\tawra_signed_url {\n\t\tkey k1 {env." + secretVar + "}\n" +
				"\t\tkey_id_header x-request-id\n\t}\n\treverse_proxy {{.Upstream}}\n}",
			wantLog: "awra_signed_url: key_id_header 'X-Request-Id' is also the request_id_header of the awra global option",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, log := runGatewayUntilExit(t, gatewayConfig{KeysFile: keysFile, Routes: tt.route, AwraOptions: "request_id_header X-Request-Id"}, 20*time.Second)
			if code == 0 {
				t.Fatalf("awragate run exited 0, want an error; log:\n%s", redact(log))
			}
			if !strings.Contains(log, tt.wantLog) {
				t.Fatalf("log lacks %q; log:\n%s", tt.wantLog, redact(log))
			}
		})
	}
}
