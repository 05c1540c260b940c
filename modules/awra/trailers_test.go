package awra

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/awra/awragate/policy"
)

// trailingBody imitates net/http's request body: at EOF it adds the
// trailers that arrived after the body to the request's trailer map.
type trailingBody struct {
	io.Reader
	into     http.Header
	received http.Header
}

func (b *trailingBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF {
		for name, values := range b.received {
			b.into[name] = values
		}
	}
	return n, err
}

func (b *trailingBody) Close() error { return nil }

func TestAPIKeyGuardsTrailers(t *testing.T) {
	f := newAPIKeyFixture(t, map[string]func(*policy.KeyRecord){"k": nil})
	r := f.request("k", "10.1.2.3")
	r.Method = http.MethodPost
	// Declared trailers, as net/http fills them in from the Trailer header.
	r.Trailer = http.Header{"X-Awra-Key-Id": nil, "Authorization": nil, "X-Checksum": nil}
	r.Body = &trailingBody{
		Reader: strings.NewReader("payload"),
		into:   r.Trailer,
		received: http.Header{
			"X-Awra-Key-Id":  {"admin"},
			"X-Awra-Scopes":  {"*:*"}, // sent without being declared
			"Authorization":  {"Bearer stolen"},
			"X-Api-Key":      {"stolen"},
			"X-Checksum":     {"abc"},
			"X_awra_key_id":  {"admin"},
			"X.awra.scopes":  {"*:*"},
			"X-Original-Url": {"/api/sales/orders"},
		},
	}

	var forwarded http.Header
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if _, err := io.ReadAll(r.Body); err != nil {
			return err
		}
		forwarded = r.Trailer.Clone()
		w.WriteHeader(http.StatusOK)
		return nil
	})
	w := httptest.NewRecorder()
	if err := f.h.ServeHTTP(w, r, next); err != nil {
		t.Fatalf("ServeHTTP: %v", err)
	}
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", w.Code)
	}
	for _, name := range []string{"X-Awra-Key-Id", "X-Awra-Scopes", "Authorization", "X-Api-Key", "X_awra_key_id", "X.awra.scopes", "X-Original-Url"} {
		if _, ok := forwarded[name]; ok {
			t.Errorf("forwarded trailer %s, want it removed", name)
		}
	}
	if v := forwarded.Get("X-Checksum"); v != "abc" {
		t.Errorf("forwarded trailer X-Checksum = %q, want abc", v)
	}
}

func TestGuardTrailersWithoutTrailers(t *testing.T) {
	r, err := http.NewRequest(http.MethodPost, "http://h/", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	body := r.Body
	guardTrailers(r, "Authorization")
	if r.Body != body {
		t.Error("guardTrailers wrapped the body of a request without trailers")
	}
}
