package awra

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"

	"golang.org/x/net/http/httpguts"
)

// Request ids are a random per-process prefix and a counter: unique across
// instances and restarts with overwhelming probability, ordered within a
// process, and cheap enough for every request (one small allocation).
var (
	requestIDPrefix  = newRequestIDPrefix()
	requestIDCounter atomic.Uint64
)

func newRequestIDPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}

func newRequestID() string {
	var buf [32]byte
	out := append(buf[:0], requestIDPrefix...)
	out = strconv.AppendUint(out, requestIDCounter.Add(1), 36)
	return string(out)
}

// defaultRequestIDHeader carries the request id to the upstream of an
// allowed request unless the request_id_header option names another
// header or turns it off.
const defaultRequestIDHeader = "X-Awra-Request-Id"

// reservedIDHeaders may not carry the request id: the gateway's other
// identity headers, credentials, and headers that frame or route the
// request.
var reservedIDHeaders = []string{
	"X-Awra-Key-Id", "X-Awra-Scopes", "X-Awra-Url-Key-Id", "X-Awra-Webhook-Provider",
	"Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key",
	"Host", "Connection", "Content-Length", "Content-Type", "Transfer-Encoding", "Te", "Upgrade",
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
}

// resolveRequestIDHeader returns the canonical name of the header that
// carries the request id upstream for the request_id_header option value:
// the default for an empty value, "" for "off", else the named header.
func resolveRequestIDHeader(option string) (string, error) {
	switch option {
	case "":
		return defaultRequestIDHeader, nil
	case "off":
		return "", nil
	}
	if !httpguts.ValidHeaderFieldName(option) {
		return "", fmt.Errorf("request_id_header: invalid header name '%s': use letters, digits and '-', such as X-Request-Id, or off", option)
	}
	name := http.CanonicalHeaderKey(option)
	if slices.Contains(reservedIDHeaders, name) {
		return "", fmt.Errorf("request_id_header: '%s' is reserved for the gateway or the protocol: choose another name, such as X-Request-Id", name)
	}
	if len(name) >= 7 && name[:7] == "X-Awra-" && name != defaultRequestIDHeader {
		return "", fmt.Errorf("request_id_header: '%s': X-Awra-* names are the gateway's own; use %s or a name of your own, such as X-Request-Id", name, defaultRequestIDHeader)
	}
	return name, nil
}
