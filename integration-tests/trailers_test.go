package integrationtests

import (
	"fmt"
	"net/http"
	"testing"
)

// Request trailers come after the body, where a client could put identity
// or credential headers that the gateway removed from the header. The
// upstream must get neither, while other trailers pass.
func TestAllowedRequestTrailers(t *testing.T) {
	t.Parallel()
	reader := newTestKey(t, "reader")
	other := newTestKey(t, "other")
	gw, up := startAPIKeyGateway(t, reader, other)

	request := fmt.Sprintf("POST /api/inventory/items HTTP/1.1\r\n"+
		"Host: %s\r\n"+
		"Authorization: Bearer %s\r\n"+
		"Transfer-Encoding: chunked\r\n"+
		"Trailer: X-Awra-Key-Id, Authorization, X-Checksum, X_Awra_Key_Id\r\n"+
		"Connection: close\r\n\r\n"+
		"7\r\npayload\r\n0\r\n"+
		"X-Awra-Key-Id: admin\r\n"+
		"X-Awra-Scopes: *:*\r\n"+
		"X_Awra_Key_Id: admin\r\n"+
		"X-Original-Url: /api/sales/orders\r\n"+
		"Authorization: Bearer %s\r\n"+
		"X-Checksum: abc\r\n\r\n", gw.addr(), reader.Token, other.Token)
	resp := sendRaw(t, gw.addr(), request)
	if resp.Status != http.StatusOK {
		t.Fatalf("POST with trailers: status %d, want 200 (body %s)", resp.Status, resp.Body)
	}

	got := up.last(t)
	if string(got.Body) != "payload" {
		t.Errorf("upstream body = %q, want payload", got.Body)
	}
	for _, name := range []string{"X-Awra-Key-Id", "X-Awra-Scopes", "Authorization", "X_awra_key_id", "X-Original-Url"} {
		// The value is not printed: it may be a token.
		if _, ok := got.Trailer[name]; ok {
			t.Errorf("upstream received trailer %s, want it removed", name)
		}
	}
	if v := got.Header.Get("X-Awra-Key-Id"); v != reader.ID {
		t.Errorf("upstream X-Awra-Key-Id = %q, want %q", v, reader.ID)
	}
	if v := got.Trailer.Get("X-Checksum"); v != "abc" {
		t.Errorf("upstream trailer X-Checksum = %q, want abc", v)
	}

	// Trailers sent without a Trailer header are not forwarded at all.
	undeclared := fmt.Sprintf("POST /api/inventory/items HTTP/1.1\r\n"+
		"Host: %s\r\n"+
		"Authorization: Bearer %s\r\n"+
		"Transfer-Encoding: chunked\r\n"+
		"Connection: close\r\n\r\n"+
		"7\r\npayload\r\n0\r\n"+
		"X-Awra-Key-Id: admin\r\n\r\n", gw.addr(), reader.Token)
	if resp := sendRaw(t, gw.addr(), undeclared); resp.Status != http.StatusOK {
		t.Fatalf("POST with undeclared trailers: status %d, want 200", resp.Status)
	}
	if got := up.last(t); len(got.Trailer) != 0 {
		t.Errorf("upstream trailers of a request that declared none: %d, want 0", len(got.Trailer))
	}
}
