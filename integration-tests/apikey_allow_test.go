package integrationtests

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
)

// apiKeyRoutes mirrors Caddyfile.example: one route per required scope, a
// route that reads the key from a custom header, and a fallback that
// proxies nothing.
const apiKeyRoutes = `
	handle /api/inventory/* {
		awra_api_key {
			scopes inventory:read
		}
		reverse_proxy {{.Upstream}}
	}
	handle /api/sales/* {
		awra_api_key {
			scopes sales:write
		}
		reverse_proxy {{.Upstream}}
	}
	handle /api/custom/* {
		awra_api_key {
			scopes inventory:read
			header X-Custom-Key
		}
		reverse_proxy {{.Upstream}}
	}
	handle {
		respond ` + "`" + `{"error":"not found"}` + "`" + ` 404
	}
`

// startAPIKeyGateway starts an upstream and a gateway on apiKeyRoutes
// whose keys file holds keys.
func startAPIKeyGateway(t *testing.T, keys ...*testKey) (*gateway, *upstream) {
	t.Helper()
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	writeKeysFile(t, keysFile, keys...)
	up := startUpstream(t)
	gw := startGateway(t, gatewayConfig{KeysFile: keysFile, Routes: apiKeyRoutes, Upstream: up})
	return gw, up
}

func TestAllowedRequest(t *testing.T) {
	t.Parallel()
	reader := newTestKey(t, "reader")
	multi := newTestKey(t, "multi", "sales:write", "inventory:read")
	gw, up := startAPIKeyGateway(t, reader, multi)
	c := clientFrom(t, "")

	// checkForwarded checks what the upstream received for an allowed
	// request of key k: the identity headers and no credential.
	checkForwarded := func(t *testing.T, k *testKey, wantScopes string) receivedRequest {
		t.Helper()
		got := up.last(t)
		if v := got.Header.Values("X-Awra-Key-Id"); len(v) != 1 || v[0] != k.ID {
			t.Errorf("upstream X-Awra-Key-Id = %q, want [%q]", v, k.ID)
		}
		if v := got.Header.Values("X-Awra-Scopes"); len(v) != 1 || v[0] != wantScopes {
			t.Errorf("upstream X-Awra-Scopes = %q, want [%q]", v, wantScopes)
		}
		// Without request_id_header no request id goes upstream.
		for _, name := range []string{"Authorization", "X-Api-Key", "X-Custom-Key", "X-Awra-Request-Id"} {
			if _, ok := got.Header[name]; ok {
				t.Errorf("upstream received the header %s, want it removed", name)
			}
		}
		return got
	}

	t.Run("bearer", func(t *testing.T) {
		resp := get(t, c, gw.url("/api/inventory/items"), bearer(reader.Token))
		checkAllowed(t, "GET /api/inventory/items with Bearer", resp)
		checkForwarded(t, reader, "inventory:read")
	})

	t.Run("x-api-key", func(t *testing.T) {
		resp := get(t, c, gw.url("/api/inventory/items"), apiKey(reader.Token))
		checkAllowed(t, "GET /api/inventory/items with X-API-Key", resp)
		checkForwarded(t, reader, "inventory:read")
	})

	t.Run("lower-case bearer scheme", func(t *testing.T) {
		resp := get(t, c, gw.url("/api/inventory/items"), http.Header{"Authorization": {"bearer " + reader.Token}})
		checkAllowed(t, "GET /api/inventory/items with 'bearer'", resp)
		checkForwarded(t, reader, "inventory:read")
	})

	t.Run("custom key header", func(t *testing.T) {
		resp := get(t, c, gw.url("/api/custom/items"), http.Header{"X-Custom-Key": {reader.Token}})
		checkAllowed(t, "GET /api/custom/items with X-Custom-Key", resp)
		checkForwarded(t, reader, "inventory:read")
	})

	t.Run("X-API-Key on custom header route", func(t *testing.T) {
		resp := get(t, c, gw.url("/api/custom/items"), apiKey(reader.Token))
		checkAllowed(t, "GET /api/custom/items with X-API-Key", resp)
		checkForwarded(t, reader, "inventory:read")
	})

	t.Run("scopes sorted", func(t *testing.T) {
		resp := get(t, c, gw.url("/api/sales/orders"), bearer(multi.Token))
		checkAllowed(t, "GET /api/sales/orders", resp)
		checkForwarded(t, multi, "inventory:read,sales:write")
	})

	t.Run("spoofed identity headers removed", func(t *testing.T) {
		h := bearer(reader.Token)
		h["X-Awra-Key-Id"] = []string{"admin"}
		h["X-Awra-Scopes"] = []string{"*:*"}
		h["X-Awra-Request-Id"] = []string{"forged"}
		h["X-Awra-Role"] = []string{"owner"}
		resp := get(t, c, gw.url("/api/inventory/items"), h)
		checkAllowed(t, "GET with forged X-Awra-* headers", resp)

		got := checkForwarded(t, reader, "inventory:read")
		if v, ok := got.Header["X-Awra-Role"]; ok {
			t.Errorf("upstream X-Awra-Role = %q, want the header removed", v)
		}
	})

	t.Run("spoofed identity headers in odd case removed", func(t *testing.T) {
		h := http.Header{
			"x-awra-key-id": {"admin"},
			"X-AWRA-SCOPES": {"*:*"},
			"X-API-Key":     {reader.Token},
		}
		resp := rawGet(t, gw.addr(), "/api/inventory/items", h)
		checkAllowed(t, "raw GET with forged x-awra-key-id", resp)
		checkForwarded(t, reader, "inventory:read")
	})

	t.Run("rewrite headers removed", func(t *testing.T) {
		h := bearer(reader.Token)
		h["X-Forwarded-Uri"] = []string{"/api/admin/users"}
		h["X-Original-Url"] = []string{"/api/admin/users"}
		h["X-Rewrite-Url"] = []string{"/api/admin/users"}
		resp := get(t, c, gw.url("/api/inventory/items"), h)
		checkAllowed(t, "GET with URL override headers", resp)

		got := up.last(t)
		for _, name := range []string{"X-Forwarded-Uri", "X-Original-Url", "X-Rewrite-Url"} {
			if v, ok := got.Header[name]; ok {
				t.Errorf("upstream %s = %q, want the header removed", name, v)
			}
		}
		if got.RequestURI != "/api/inventory/items" {
			t.Errorf("upstream request URI = %q, want %q", got.RequestURI, "/api/inventory/items")
		}
	})

	t.Run("query and other headers forwarded", func(t *testing.T) {
		h := apiKey(reader.Token)
		h["X-Client-Trace"] = []string{"trace-1"}
		resp := get(t, c, gw.url("/api/inventory/items?page=2&sort=name"), h)
		checkAllowed(t, "GET with a query", resp)

		got := up.last(t)
		if want := "/api/inventory/items?page=2&sort=name"; got.RequestURI != want {
			t.Errorf("upstream request URI = %q, want %q", got.RequestURI, want)
		}
		if v := got.Header.Get("X-Client-Trace"); v != "trace-1" {
			t.Errorf("upstream X-Client-Trace = %q, want %q", v, "trace-1")
		}
	})

	t.Run("upstream response unchanged", func(t *testing.T) {
		nonce := make([]byte, 16)
		_, _ = rand.Read(nonce)
		want := upstreamResponse{
			Status: http.StatusCreated,
			Header: http.Header{
				"Content-Type":    {"application/vnd.awra.inventory+json"},
				"X-Upstream-Note": {"first", "second"},
				"Cache-Control":   {"private, max-age=30"},
				"Etag":            {`"` + hex.EncodeToString(nonce[:4]) + `"`},
			},
			Body: []byte(`{"created":"` + hex.EncodeToString(nonce) + `"}`),
		}
		up.setResponse(want)
		t.Cleanup(func() { up.setResponse(defaultUpstreamResponse()) })

		resp := send(t, c, http.MethodPost, gw.url("/api/inventory/items"), bearer(reader.Token))
		if resp.Status != want.Status {
			t.Errorf("POST /api/inventory/items = %s, want %d", resp.describe(), want.Status)
		}
		if !bytes.Equal(resp.Body, want.Body) {
			t.Errorf("response body = %q, want %q", resp.Body, want.Body)
		}
		for name, values := range want.Header {
			if got := resp.Header.Values(name); !slices.Equal(got, values) {
				t.Errorf("response %s = %q, want %q", name, got, values)
			}
		}
	})
}

func TestWildcardScopes(t *testing.T) {
	t.Parallel()
	anyAction := newTestKey(t, "any-action", "inventory:*")
	anyResource := newTestKey(t, "any-resource", "*:read")
	everything := newTestKey(t, "everything", "*:*")
	gw, up := startAPIKeyGateway(t, anyAction, anyResource, everything)
	c := clientFrom(t, "")

	tests := []struct {
		name       string
		key        *testKey
		path       string
		wantStatus int
		wantReason string
	}{
		{"resource wildcard grants read", anyAction, "/api/inventory/items", http.StatusOK, ""},
		{"resource wildcard lacks sales", anyAction, "/api/sales/orders", http.StatusForbidden, "scope_missing"},
		{"action wildcard grants read", anyResource, "/api/inventory/items", http.StatusOK, ""},
		{"action wildcard lacks write", anyResource, "/api/sales/orders", http.StatusForbidden, "scope_missing"},
		{"full wildcard grants read", everything, "/api/inventory/items", http.StatusOK, ""},
		{"full wildcard grants write", everything, "/api/sales/orders", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.count()
			resp := get(t, c, gw.url(tt.path), bearer(tt.key.Token))
			request := "GET " + tt.path + " with key " + tt.key.ID

			if tt.wantStatus != http.StatusOK {
				checkProblem(t, request, resp, tt.wantStatus, tt.wantReason)
				if n := up.count() - before; n != 0 {
					t.Errorf("%s: upstream received %d requests, want 0", request, n)
				}
				return
			}
			checkAllowed(t, request, resp)
			got := up.last(t)
			if v := got.Header.Get("X-Awra-Scopes"); v != tt.key.Record.Scopes[0] {
				t.Errorf("%s: upstream X-Awra-Scopes = %q, want %q", request, v, tt.key.Record.Scopes[0])
			}
		})
	}
}
