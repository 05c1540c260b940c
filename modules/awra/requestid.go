package awra

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/net/http/httpguts"

	"github.com/awra/awragate/policy/webhook"
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

// reservedIDHeaders may not carry the request id, because the gateway,
// HTTP or a webhook provider gives them a meaning that the id would
// replace: the gateway's identity headers, credentials, headers that frame,
// route or describe the request, the rewrite headers the gateway removes,
// and the headers of the webhook providers, whose schemes list their own.
var reservedIDHeaders = append([]string{
	"X-Awra-Key-Id", "X-Awra-Scopes", "X-Awra-Url-Key-Id", "X-Awra-Webhook-Provider",
	"Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key",
	"Host", "Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Expect", "Range", "Via", "Forwarded", "X-Real-Ip", "User-Agent", "Referer", "Origin",
	"X-Forwarded-Uri", "X-Original-Url", "X-Rewrite-Url",
	"X-Hub-Signature", "X-Github-Event", // GitHub headers its scheme does not read
}, webhook.ProviderHeaders()...)

// reservedIDPrefixes are families of reserved headers, in canonical form.
var reservedIDPrefixes = []string{"Content-", "Accept", "If-", "X-Forwarded-", "Sec-", "Proxy-", "Access-Control-"}

// resolveRequestIDHeader returns the canonical name of the header that
// carries the request id upstream for the request_id_header option value:
// "" for an empty value or "off" in any case, else the named header.
func resolveRequestIDHeader(option string) (string, error) {
	if option == "" || strings.EqualFold(option, "off") {
		return "", nil
	}
	if !httpguts.ValidHeaderFieldName(option) {
		return "", fmt.Errorf("request_id_header: invalid header name '%s': use letters, digits and '-', such as X-Request-Id, or off", option)
	}
	name := http.CanonicalHeaderKey(option)
	if slices.Contains(reservedIDHeaders, name) || slices.ContainsFunc(reservedIDPrefixes, func(p string) bool {
		return strings.HasPrefix(name, p)
	}) {
		return "", fmt.Errorf("request_id_header: '%s' is reserved for the gateway, HTTP or a webhook provider: choose another name, such as X-Request-Id", name)
	}
	if len(name) >= 7 && name[:7] == "X-Awra-" && name != awraRequestIDHeader {
		return "", fmt.Errorf("request_id_header: '%s': X-Awra-* names are the gateway's own; use %s or a name of your own, such as X-Request-Id", name, awraRequestIDHeader)
	}
	return name, nil
}

// checkIDHeaderClash rejects a handler option that names the request id
// header, because allowed requests get the request id written over it.
func checkIDHeaderClash(idHeader, option, name string) error {
	if idHeader == "" || name == "" || http.CanonicalHeaderKey(name) != idHeader {
		return nil
	}
	return fmt.Errorf("%s '%s' is also the request_id_header of the awra global option, which the gateway overwrites with the request id on allowed requests: give one of them another name", option, name)
}
