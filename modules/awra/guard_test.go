package awra

import (
	"net/http"
	"testing"
)

func TestSetIdentityKeepsValuesApart(t *testing.T) {
	h := http.Header{"X-Awra-Key-Id": {"spoofed"}, "X-Request-Id": {"spoofed"}}
	setIdentity(h, "X-Request-Id", &decision{requestID: "req-1"}, "X-Awra-Key-Id", "k1", "X-Awra-Scopes", "inventory:read")

	if got := h["X-Awra-Key-Id"]; len(got) != 1 || got[0] != "k1" {
		t.Fatalf("X-Awra-Key-Id = %q, want [k1]", got)
	}
	if got := h["X-Request-Id"]; len(got) != 1 || got[0] != "req-1" {
		t.Fatalf("X-Request-Id = %q, want [req-1]: the client's value must be replaced", got)
	}
	// A later Add on one header must not write into the next one's value.
	h.Add("X-Awra-Key-Id", "extra")
	h.Add("X-Awra-Scopes", "extra")
	if got := h["X-Awra-Scopes"]; len(got) != 2 || got[0] != "inventory:read" {
		t.Errorf("X-Awra-Scopes = %q after Adds, want [inventory:read extra]", got)
	}
	if got := h["X-Request-Id"]; len(got) != 1 || got[0] != "req-1" {
		t.Errorf("X-Request-Id = %q after an Add to X-Awra-Scopes, want [req-1]", got)
	}
}

func TestSetIdentityWithoutRequestID(t *testing.T) {
	h := http.Header{}
	setIdentity(h, "", &decision{requestID: "req-1"}, "X-Awra-Url-Key-Id", "k2026")

	if len(h) != 1 || h.Get("X-Awra-Url-Key-Id") != "k2026" {
		t.Fatalf("headers = %v, want only X-Awra-Url-Key-Id: k2026", h)
	}
}
