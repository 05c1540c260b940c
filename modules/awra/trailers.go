package awra

import (
	"io"
	"net/http"
	"strings"
)

// guardTrailers keeps X-Awra-* names, the named credential headers, the
// rewrite headers and names with '_' or '.' out of the request trailers
// that reverse_proxy forwards, as the handlers and Caddy keep them out of
// the headers. net/http adds the received trailers to r.Trailer when the
// body reaches EOF, so the names are removed then as well.
//
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
			// By default Caddy drops request headers with '_' or '.' in
			// their names, because CGI and FastCGI backends map '-' to
			// '_' and such a name can pose as another. It does not
			// filter trailers.
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
