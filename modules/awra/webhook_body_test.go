package awra

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// countingReader serves size bytes of 'a' and counts what was read.
type countingReader struct {
	size, read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.read >= c.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), c.size-c.read)
	copy(p, bytes.Repeat([]byte{'a'}, int(n)))
	c.read += n
	return int(n), nil
}

func (c *countingReader) Close() error { return nil }

func TestReadBody(t *testing.T) {
	const limit = 1 << 10
	tests := []struct {
		name          string
		size          int64 // bytes the client sends
		contentLength int64 // -1 for chunked
		wantErr       error
		maxRead       int64 // most bytes readBody may consume
	}{
		{"empty", 0, 0, nil, 0},
		{"small with length", 10, 10, nil, 10},
		{"exactly the limit", limit, limit, nil, limit},
		{"exactly the limit chunked", limit, -1, nil, limit},
		{"declared over the limit", 30 << 20, 30 << 20, errBodyTooLarge, 0},
		{"one byte over chunked", limit + 1, -1, errBodyTooLarge, limit + 1},
		{"far over chunked", 30 << 20, -1, errBodyTooLarge, limit + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &countingReader{size: tt.size}
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Body = src
			r.ContentLength = tt.contentLength

			body, err := readBody(r, limit)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("readBody(%d bytes) error = %v, want %v", tt.size, err, tt.wantErr)
			}
			if src.read > tt.maxRead {
				t.Errorf("readBody consumed %d bytes, want at most %d", src.read, tt.maxRead)
			}
			if err == nil && int64(len(body)) != tt.size {
				t.Errorf("len(body) = %d, want %d", len(body), tt.size)
			}
		})
	}
}

func TestReadBodyEarlierLimit(t *testing.T) {
	// A request_body handler before this one wraps the body in
	// http.MaxBytesReader with a smaller limit.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("a", 100)))
	r.ContentLength = -1
	r.Body = http.MaxBytesReader(w, r.Body, 10)
	if _, err := readBody(r, 1000); !errors.Is(err, errBodyTooLarge) {
		t.Errorf("readBody behind a 10-byte MaxBytesReader = %v, want errBodyTooLarge", err)
	}
}

func TestReadBodyReadError(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Body = io.NopCloser(io.MultiReader(strings.NewReader("abc"), errReader{}))
	r.ContentLength = -1
	if _, err := readBody(r, 1000); err == nil || errors.Is(err, errBodyTooLarge) {
		t.Errorf("readBody with a failing body = %v, want the read error", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestReadBodyDoesNotPreallocateDeclaredLength(t *testing.T) {
	// A client that declares 1 MiB and sends 3 bytes gets a small buffer.
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("abc"))
	r.ContentLength = 1 << 20
	body, err := readBody(r, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if cap(body) > initialBodyBuffer {
		t.Errorf("cap(body) = %d, want at most %d", cap(body), initialBodyBuffer)
	}
}

func TestForwardBody(t *testing.T) {
	body := []byte("exact \x00 bytes")
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.TransferEncoding = []string{"chunked"}
	r.Header.Set("Transfer-Encoding", "chunked")
	forwardBody(r, body)

	got, _ := io.ReadAll(r.Body)
	if !bytes.Equal(got, body) {
		t.Errorf("body = %q, want %q", got, body)
	}
	if r.ContentLength != int64(len(body)) || r.Header.Get("Content-Length") != "13" {
		t.Errorf("ContentLength, header = %d, %q, want 13", r.ContentLength, r.Header.Get("Content-Length"))
	}
	if r.TransferEncoding != nil || r.Header.Get("Transfer-Encoding") != "" {
		t.Errorf("Transfer-Encoding = %v, %q, want none", r.TransferEncoding, r.Header.Get("Transfer-Encoding"))
	}
	again, err := r.GetBody()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(again); !bytes.Equal(got, body) {
		t.Errorf("GetBody() = %q, want %q", got, body)
	}
}
