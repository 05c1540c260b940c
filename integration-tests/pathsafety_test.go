package integrationtests

import (
	"net/http"
	"path/filepath"
	"testing"
)

// pathRoutes put awra_api_key behind a strip_prefix and a rewrite (both
// run before it in Caddy's directive order), and guard every other path
// as well, so that a path which Caddy's matchers clean out of
// /api/inventory/ still reaches a guard.
const pathRoutes = `
	handle /legacy/* {
		uri strip_prefix /legacy/v1
		awra_api_key {
			scopes inventory:read
		}
		reverse_proxy {{.Upstream}}
	}
	handle_path /v2/* {
		awra_api_key {
			scopes inventory:read
		}
		reverse_proxy {{.Upstream}}
	}
	handle /old/* {
		rewrite * /api/inventory/items
		awra_api_key {
			scopes inventory:read
		}
		reverse_proxy {{.Upstream}}
	}
	handle /api/inventory/* {
		awra_api_key {
			scopes inventory:read
		}
		reverse_proxy {{.Upstream}}
	}
	handle {
		awra_api_key {
			scopes inventory:read
		}
		reverse_proxy {{.Upstream}}
	}
`

func TestAmbiguousPath(t *testing.T) {
	t.Parallel()
	reader := newTestKey(t, "reader")
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	writeKeysFile(t, keysFile, reader)
	up := startUpstream(t)
	gw := startGateway(t, gatewayConfig{KeysFile: keysFile, Routes: pathRoutes, Upstream: up})

	// Each target is sent raw, with a valid key, because Go's client
	// would clean or re-escape some of them.
	tricks := []struct {
		name   string
		target string
	}{
		{"dot-dot segment", "/api/inventory/../x"},
		{"dot segment", "/api/inventory/./x"},
		{"trailing dot-dot", "/api/inventory/x/.."},
		{"encoded dot-dot", "/api/inventory/%2e%2e/x"},
		{"encoded dot-dot mixed case", "/api/inventory/%2E%2e/x"},
		{"half-encoded dot-dot", "/api/inventory/.%2e/x"},
		{"encoded dot", "/api/inventory/%2e/x"},
		{"double-encoded dot-dot", "/api/inventory/%252e%252e/x"},
		{"double-encoded escape", "/api/inventory/%25%32%65%25%32%65/x"},
		{"double-encoded slash beside a literal percent", "/api/inventory/%252e%252e%252fsales%252forders%25"},
		{"double-encoded fragment mark", "/api/inventory/items%2523/admin"},
		{"double-encoded question mark", "/api/inventory/items%253Fx=/admin"},
		{"overlong dot-dot", "/api/inventory/%c0%ae%c0%ae/x"},
		{"overlong slash", "/api/inventory/..%c0%afadmin"},
		{"double-encoded overlong dot", "/api/inventory/%25c0%25ae%25c0%25ae/x"},
		{"encoded unicode escape dot-dot", "/api/inventory/%25u002e%25u002e/x"},
		{"raw fragment mark", "/api/inventory/items#/admin"},
		{"raw fragment mark in absolute form", "http://" + gw.addr() + "/api/inventory/items#/admin"},
		{"encoded slash", "/api/inventory/a%2Fb"},
		{"encoded slash lower case", "/api/inventory/a%2fb"},
		{"encoded dot-dot-slash", "/api/inventory/..%2f..%2fadmin"},
		{"double-encoded slash", "/api/inventory/a%252Fb"},
		{"encoded backslash", "/api/inventory/a%5Cb"},
		{"encoded backslash lower case", "/api/inventory/a%5cb"},
		{"raw backslash", `/api/inventory/a\b`},
		{"backslash dot-dot", `/api/inventory/..\x`},
		{"encoded NUL", "/api/inventory/a%00b"},
		{"encoded control character", "/api/inventory/a%0Ab"},
		{"semicolon", "/api/inventory/a;b"},
		{"semicolon dot-dot", "/api/inventory/..;/x"},
		{"encoded semicolon", "/api/inventory/a%3Bb"},
		{"encoded semicolon lower case", "/api/inventory/a%3bb"},
		{"trick after a query-like segment", "/api/inventory/x/%2e%2e?a=b"},
		{"absolute form", "http://" + gw.addr() + "/api/inventory/%2e%2e/x"},

		// A strip_prefix or rewrite before the guard must not hide a
		// trick from it.
		{"strip_prefix hides encoded slash", "/legacy%2Fv1/api/inventory/items"},
		{"trick after strip_prefix", "/legacy/v1/api/inventory/%2e%2e/x"},
		{"handle_path hides encoded slash", "/v2%2Fapi/inventory/items"},
		{"handle_path hides semicolon", "/v2;x/api/inventory/items"},
		{"rewrite hides dot-dot", "/old/a/%2e%2e/b"},
		{"rewrite hides semicolon", "/old/a;b"},
		{"rewrite hides encoded slash", "/old/a%2Fb"},
	}
	for _, tt := range tricks {
		t.Run(tt.name, func(t *testing.T) {
			before := up.count()
			resp := rawGet(t, gw.addr(), tt.target, apiKey(reader.Token))
			checkProblem(t, "GET "+tt.target, resp, http.StatusBadRequest, "path_ambiguous")
			if n := up.count() - before; n != 0 {
				t.Errorf("GET %s: upstream received %d requests (last: %q), want 0", tt.target, n, up.last(t).RequestURI)
			}
		})
	}

	// Paths that only look unusual must still pass, or the checks above
	// would pass for the wrong reason.
	clean := []struct {
		name         string
		target       string
		wantUpstream string
	}{
		{"plain", "/api/inventory/items", "/api/inventory/items"},
		{"dots inside segments", "/api/inventory/v1.2/file..name/...x", "/api/inventory/v1.2/file..name/...x"},
		{"encoded space", "/api/inventory/a%20b", "/api/inventory/a%20b"},
		{"encoded letter", "/api/inventory/%41", "/api/inventory/%41"},
		{"encoded fragment mark", "/api/inventory/a%23b", "/api/inventory/a%23b"},
		{"encoded question mark", "/api/inventory/a%3Fb", "/api/inventory/a%3Fb"},
		{"encoded UTF-8", "/api/inventory/caf%C3%A9", "/api/inventory/caf%C3%A9"},
		{"encoded Latin-1 byte", "/api/inventory/caf%E9", "/api/inventory/caf%E9"},
		{"literal percent", "/api/inventory/100%25", "/api/inventory/100%25"},
		{"query with dots and slashes", "/api/inventory/items?path=../x%2F", "/api/inventory/items?path=../x%2F"},
		{"strip_prefix", "/legacy/v1/api/inventory/items", "/api/inventory/items"},
		{"handle_path", "/v2/api/inventory/items", "/api/inventory/items"},
		{"rewrite", "/old/anything", "/api/inventory/items"},
	}
	for _, tt := range clean {
		t.Run(tt.name, func(t *testing.T) {
			resp := rawGet(t, gw.addr(), tt.target, apiKey(reader.Token))
			checkAllowed(t, "GET "+tt.target, resp)
			if resp.Status != http.StatusOK {
				return
			}
			if got := up.last(t).RequestURI; got != tt.wantUpstream {
				t.Errorf("GET %s: upstream request URI = %q, want %q", tt.target, got, tt.wantUpstream)
			}
		})
	}
}
