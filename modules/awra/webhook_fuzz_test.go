package awra

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// chunkedReader returns at most size bytes per Read, as a slow client's
// body arrives, and counts what was read.
type chunkedReader struct {
	data []byte
	size int
	read int
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.read == len(c.data) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.size)], c.data[c.read:])
	c.read += n
	return n, nil
}

func (c *chunkedReader) Close() error { return nil }

// FuzzReadBody checks readBody on bodies of any content and size, sent
// with or without a Content-Length and in reads of any size. A body within
// the limit is returned byte for byte. A larger one fails after at most
// limit+1 bytes were read.
func FuzzReadBody(f *testing.F) {
	f.Add([]byte(`{"event":"charge.success"}`), uint16(1024), true, uint8(7))
	f.Add([]byte("exactly8"), uint16(7), false, uint8(0))
	f.Add([]byte("exactly8"), uint16(7), true, uint8(255))
	f.Add([]byte{}, uint16(0), false, uint8(1))
	f.Add(bytes.Repeat([]byte{0xff}, 100), uint16(99), false, uint8(30))

	f.Fuzz(func(t *testing.T, data []byte, limit16 uint16, declared bool, chunk uint8) {
		limit := int64(limit16) + 1
		src := &chunkedReader{data: data, size: int(chunk) + 1}
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Body = src
		r.ContentLength = -1
		if declared {
			r.ContentLength = int64(len(data))
		}

		body, err := readBody(r, limit)
		if int64(len(data)) > limit {
			if !errors.Is(err, errBodyTooLarge) {
				t.Fatalf("readBody(%d bytes, limit %d) error = %v, want errBodyTooLarge", len(data), limit, err)
			}
			if int64(src.read) > limit+1 {
				t.Fatalf("readBody(%d bytes, limit %d) read %d bytes, want at most %d", len(data), limit, src.read, limit+1)
			}
			return
		}
		if err != nil {
			t.Fatalf("readBody(%d bytes, limit %d) error = %v, want nil", len(data), limit, err)
		}
		if !bytes.Equal(body, data) {
			t.Fatalf("readBody(%q) = %q, want the same bytes", data, body)
		}
	})
}
