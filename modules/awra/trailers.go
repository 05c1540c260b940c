package awra

import (
	"io"
	"net/http"
)

// guardTrailers keeps X-Awra-* names and the named credential headers out
// of the request trailers that reverse_proxy forwards, as the handlers
// keep them out of the headers. Trailers come after the body: net/http
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
