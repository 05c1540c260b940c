package webhook

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"strconv"

	"github.com/awra/awragate/policy"
)

// headerField is a header that a scheme requires, with the public Detail
// texts of its failures built once so that Verify does not format strings.
type headerField struct {
	key       string // canonical MIME form, the key in http.Header
	missing   string
	empty     string
	repeated  string
	malformed string
}

// newHeaderField describes header name. format completes the sentence
// "the <name> header must be ...".
func newHeaderField(name, format string) headerField {
	key := textproto.CanonicalMIMEHeaderKey(name)
	return headerField{
		key:       key,
		missing:   "the " + key + " header is missing",
		empty:     "the " + key + " header is empty",
		repeated:  "the " + key + " header is sent more than once",
		malformed: "the " + key + " header must be " + format,
	}
}

// read returns the header's only value. A missing or empty header is
// signature_missing. A header sent twice is signature_invalid, because the
// two copies could be read differently along the way.
func (f *headerField) read(h http.Header) (string, Result) {
	values := h[f.key]
	switch {
	case len(values) == 0:
		return "", deny(policy.ReasonSignatureMissing, f.missing)
	case len(values) > 1:
		return "", deny(policy.ReasonSignatureInvalid, f.repeated)
	case values[0] == "":
		return "", deny(policy.ReasonSignatureMissing, f.empty)
	}
	return values[0], Result{}
}

// sigEncoding is the text encoding of a signature in its header.
type sigEncoding int

const (
	encodingHex    sigEncoding = iota + 1 // lower-case hex digits
	encodingBase64                        // standard alphabet with padding
)

var encodingByName = map[string]sigEncoding{
	"hex":    encodingHex,
	"base64": encodingBase64,
}

// describe completes "must be ..." for a signature of size bytes.
func (e sigEncoding) describe(size int) string {
	if e == encodingHex {
		return strconv.Itoa(2*size) + " lower-case hex digits"
	}
	return "the standard base64 of " + strconv.Itoa(size) + " bytes, with padding (" + strconv.Itoa(base64.StdEncoding.EncodedLen(size)) + " characters)"
}

func (e sigEncoding) encode(sum []byte) string {
	if e == encodingHex {
		return hex.EncodeToString(sum)
	}
	return base64.StdEncoding.EncodeToString(sum)
}

// decodeSignature decodes s into dst and reports whether s is exactly one
// canonical encoding of len(dst) bytes. Anything else (wrong length,
// upper-case hex, missing padding, non-zero trailing bits, line breaks)
// is rejected, so each signature has one accepted spelling.
func decodeSignature(e sigEncoding, s string, dst []byte) bool {
	switch e {
	case encodingHex:
		return decodeLowerHex(s, dst)
	case encodingBase64:
		return decodeStdBase64(s, dst)
	}
	return false
}

func decodeLowerHex(s string, dst []byte) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := lowerHexValue(s[2*i])
		lo, ok2 := lowerHexValue(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func lowerHexValue(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// strictBase64 rejects non-zero trailing bits. It still skips '\r' and
// '\n', which decodeStdBase64 rules out before decoding.
var strictBase64 = base64.StdEncoding.Strict()

func decodeStdBase64(s string, dst []byte) bool {
	if len(dst) > sha512.Size || len(s) != base64.StdEncoding.EncodedLen(len(dst)) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBase64Byte(s[i]) {
			return false
		}
	}
	var buf [maxDecodedLen]byte
	n, err := strictBase64.Decode(buf[:], []byte(s))
	if err != nil || n != len(dst) {
		return false
	}
	copy(dst, buf[:n])
	return true
}

// maxDecodedLen is the buffer size Decode needs for the 88-character
// encoding of a 64-byte SHA-512 MAC, the longest signature read.
const maxDecodedLen = 66

func isBase64Byte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// maxIDLength bounds signed message ids and delivery ids.
const maxIDLength = 256

// validID reports whether id is 1 to maxIDLength printable ASCII
// characters other than space.
func validID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// readDeliveryID returns the only value of header key if it is a valid id,
// else "". key must be canonical.
func readDeliveryID(h http.Header, key string) string {
	if key == "" {
		return ""
	}
	values := h[key]
	if len(values) != 1 || !validID(values[0]) {
		return ""
	}
	return values[0]
}

// isVersionName reports whether s is a scheme or version tag such as "v1",
// "t" or "v1a": 1 to 16 of a-z and 0-9.
func isVersionName(s string) bool {
	if len(s) == 0 || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
