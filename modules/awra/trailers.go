package awra

import (
	"io"
	"net/http"
	"strings"
)

// guardTrailers keeps X-Awra-* names, the named credential headers, the
// rewrite headers and names with '_' or '.' out of the request trailers
// that reverse_proxy forwards, as the handlers and Caddy keep them out of
// the headers. Trailers come after the body: net/http
// adds the received ones to r.Trailer when the body reaches EOF, whether
// the client declared them or not, so the names are removed then as well.
// Without declared trailers r.Trailer is nil. net/http then puts the
// received ones on its own copy of the request, which reverse_proxy does
// not read, so nothing needs doing (an integration test checks this).
func guardTrailers(r *http.Request, credentialHeaders ...string) {
	if r.Trailer == nil {
		return
	}
	trailer := r.Trailer
	strip := func() {
		stripAwraHeaders(trailer)
		stripRewriteHeaders(trailer)
		for name := range trailer {
			// Caddy drops header names with '_' or '.', which some
			// servers read as '-', but not trailer names.
			if strings.ContainsAny(name, "_.") {
				delete(trailer, name)
			}
		}
		for _, name := range credentialHeaders {
			delete(trailer, name)
		}
	}
	strip()
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &trailerGuard{ReadCloser: r.Body, strip: strip}
	}
}

// trailerGuard runs strip once, when its body reports EOF and before the
// caller sees it.
type trailerGuard struct {
	io.ReadCloser
	strip func()
	done  bool
}

func (g *trailerGuard) Read(p []byte) (int, error) {
	n, err := g.ReadCloser.Read(p)
	if err == io.EOF && !g.done {
		g.done = true
		g.strip()
	}
	return n, err
}
