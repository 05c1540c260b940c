package integrationtests

import (
	"net/http"
	"testing"
)

func TestClientAddressAllowlist(t *testing.T) {
	t.Parallel()

	// Documentation networks (RFC 5737) stand for clients behind a proxy.
	elsewhere := newTestKey(t, "elsewhere")
	elsewhere.Record.AllowedCIDRs = []string{"10.0.0.0/8"}
	loopback4 := newTestKey(t, "loopback4")
	loopback4.Record.AllowedCIDRs = []string{"127.0.0.1/32"}
	loopback6 := newTestKey(t, "loopback6")
	loopback6.Record.AllowedCIDRs = []string{"::1/128"}
	realClient := newTestKey(t, "real-client")
	realClient.Record.AllowedCIDRs = []string{"203.0.113.0/24"}
	spoofed := newTestKey(t, "spoofed")
	spoofed.Record.AllowedCIDRs = []string{"198.51.100.7/32"}

	gw, up := startAPIKeyGateway(t, elsewhere, loopback4, loopback6, realClient, spoofed)
	direct := clientFrom(t, "127.0.0.1")
	direct6 := clientFrom(t, "::1")
	proxy := clientFrom(t, trustedProxyIP)

	tests := []struct {
		name       string
		client     *http.Client
		ipv6       bool
		key        *testKey
		forwarded  []string // X-Forwarded-For lines
		wantStatus int
	}{
		{"peer outside the allowlist", direct, false, elsewhere, nil, 403},
		{"IPv4 peer allowed", direct, false, loopback4, nil, 200},
		{"IPv6 peer allowed", direct6, true, loopback6, nil, 200},
		{"IPv4 peer on IPv6-only key", direct, false, loopback6, nil, 403},
		{"IPv6 peer on IPv4-only key", direct6, true, loopback4, nil, 403},

		// An untrusted peer's X-Forwarded-For is ignored: its own
		// address decides.
		{"untrusted peer names an allowed address", direct, false, spoofed, []string{"198.51.100.7"}, 403},
		{"untrusted peer names an allowed network", direct, false, realClient, []string{"203.0.113.9"}, 403},
		{"untrusted peer with a foreign address", direct, false, loopback4, []string{"10.1.2.3"}, 200},
		{"untrusted IPv6 peer names an allowed address", direct6, true, spoofed, []string{"198.51.100.7"}, 403},

		// A trusted proxy appends the address it saw, and the right-most
		// untrusted entry is the client.
		{"trusted proxy, real client allowed", proxy, false, realClient, []string{"198.51.100.7, 203.0.113.9"}, 200},
		{"trusted proxy, spoofed entry ignored", proxy, false, spoofed, []string{"198.51.100.7, 203.0.113.9"}, 403},
		{"trusted proxy, chain in two header lines", proxy, false, spoofed, []string{"198.51.100.7", "203.0.113.9"}, 403},
		{"trusted proxy, single entry", proxy, false, realClient, []string{"203.0.113.9"}, 200},
		{"trusted proxy entries skipped", proxy, false, realClient, []string{"198.51.100.7, 203.0.113.9, " + trustedProxyIP}, 200},
		{"trusted proxy, IPv4-mapped client", proxy, false, realClient, []string{"::ffff:203.0.113.9"}, 200},
		{"trusted proxy without the header", proxy, false, loopback4, nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := gw.url("/api/inventory/items")
			if tt.ipv6 {
				url = gw.url6("/api/inventory/items")
			}
			h := bearer(tt.key.Token)
			if tt.forwarded != nil {
				h["X-Forwarded-For"] = tt.forwarded
			}
			before := up.count()
			resp := get(t, tt.client, url, h)
			request := "GET with key " + tt.key.ID

			if tt.wantStatus != http.StatusOK {
				checkProblem(t, request, resp, tt.wantStatus, "ip_not_allowed")
				if n := up.count() - before; n != 0 {
					t.Errorf("upstream received %d requests, want 0", n)
				}
				return
			}
			checkAllowed(t, request, resp)
			if got := up.last(t).Header.Get("X-Awra-Key-Id"); got != tt.key.ID {
				t.Errorf("upstream X-Awra-Key-Id = %q, want %q", got, tt.key.ID)
			}
		})
	}
}
