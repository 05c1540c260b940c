package awra

import (
	"net/http"
	"testing"
)

func TestSetHeadersKeepsValuesApart(t *testing.T) {
	h := http.Header{"X-Awra-Key-Id": {"spoofed"}}
	setHeaders(h, "X-Awra-Key-Id", "k1", "X-Awra-Scopes", "inventory:read")

	if got := h["X-Awra-Key-Id"]; len(got) != 1 || got[0] != "k1" {
		t.Fatalf("X-Awra-Key-Id = %q, want [k1]", got)
	}
	// A later Add on one header must not write into the next one's value.
	h.Add("X-Awra-Key-Id", "extra")
	if got := h["X-Awra-Scopes"]; len(got) != 1 || got[0] != "inventory:read" {
		t.Errorf("X-Awra-Scopes = %q after an Add to X-Awra-Key-Id, want [inventory:read]", got)
	}
}
