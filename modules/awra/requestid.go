package awra

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
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

// awraRequestIDHeader is the gateway's own name for the header that carries
// the request id upstream, one that request_id_header may choose. Without
// the option no request id goes upstream. Each header costs Caddy's
// reverse_proxy work on every request (bench/RESULTS.md).
const awraRequestIDHeader = "X-Awra-Request-Id"

// resolveRequestIDHeader returns the canonical name of the header that
// carries the request id upstream for the request_id_header option value:
// "" for an empty value or "off" in any case, else the named header.
func resolveRequestIDHeader(option string) (string, error) {
	return resolveForwardHeader("request_id_header", option, awraRequestIDHeader, "X-Request-Id")
}

// checkIDHeaderClash rejects a handler option that names the request id
// header, because allowed requests get the request id written over it.
func checkIDHeaderClash(idHeader, option, name string) error {
	if idHeader == "" || name == "" || http.CanonicalHeaderKey(name) != idHeader {
		return nil
	}
	return fmt.Errorf("%s '%s' is also the request_id_header of the awra global option, which the gateway overwrites with the request id on allowed requests: give one of them another name", option, name)
}
