package awra

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// errBodyTooLarge is returned by readBody for a body over the limit.
var errBodyTooLarge = errors.New("request body too large")

// initialBodyBuffer caps the buffer allocated before any body byte has
// arrived.
const initialBodyBuffer = 64 << 10

// readBody reads the whole body of r, at most limit bytes. A declared
// Content-Length over limit fails before any byte is read. A body without
// one (chunked) fails as soon as it crosses limit, so at most limit+1
// bytes are ever held. A limit set by an earlier request_body handler
// counts as errBodyTooLarge too.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errBodyTooLarge
	}
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, nil
	}

	// With a known length, one extra byte of capacity lets the final read
	// see EOF without growing the buffer. The first allocation is capped,
	// so a client that declares a large body and sends nothing does not
	// pin max_body bytes per connection.
	capacity := int64(512)
	if r.ContentLength >= 0 {
		capacity = min(r.ContentLength+1, initialBodyBuffer)
	}
	buf := make([]byte, 0, capacity)
	src := io.LimitReader(r.Body, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, errBodyTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, errBodyTooLarge
			}
			return nil, err
		}
	}
}

// forwardBody makes body, the exact bytes read, the body of r with a
// Content-Length, so the upstream receives the same bytes even when the
// client sent them chunked.
func forwardBody(r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(body)), nil
	}
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	r.Header.Del("Transfer-Encoding")
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
}
