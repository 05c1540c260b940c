package awra

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/awra/awragate/policy/webhook"
)

// Options such as request_id_header and key_id_header name a header that
// the gateway sets on allowed requests before they go upstream. Such a
// header must not be one that the gateway, HTTP or a webhook provider
// gives a meaning, because the gateway's value would replace that meaning.

// reservedForwardHeaders are the gateway's identity headers, credentials,
// headers that frame, route or describe the request, the rewrite headers
// the gateway removes, and the headers of the webhook providers, whose
// schemes list their own.
var reservedForwardHeaders = append([]string{
	"X-Awra-Key-Id", "X-Awra-Scopes", "X-Awra-Url-Key-Id", "X-Awra-Webhook-Provider",
	"Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key",
	"Host", "Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Expect", "Range", "Via", "Forwarded", "X-Real-Ip", "User-Agent", "Referer", "Origin",
	"X-Forwarded-Uri", "X-Original-Url", "X-Rewrite-Url",
	"X-Hub-Signature", "X-Github-Event", // GitHub headers its scheme does not read
}, webhook.ProviderHeaders()...)

// reservedForwardPrefixes are families of reserved headers, in canonical
// form.
var reservedForwardPrefixes = []string{"Content-", "Accept", "If-", "X-Forwarded-", "Sec-", "Proxy-", "Access-Control-"}

// resolveForwardHeader returns the canonical name of the header that an
// option sets upstream: "" for an empty value or "off" in any case, else
// the named header. awraName is the only X-Awra-* name the option accepts,
// and example is the name that error messages suggest.
func resolveForwardHeader(option, value, awraName, example string) (string, error) {
	if value == "" || strings.EqualFold(value, "off") {
		return "", nil
	}
	if !httpguts.ValidHeaderFieldName(value) {
		return "", fmt.Errorf("%s: invalid header name '%s': a header name has no spaces, colons or control characters; use one such as %s, or off", option, value, example)
	}
	name := http.CanonicalHeaderKey(value)
	switch {
	case name == awraName:
		return name, nil
	case len(name) >= 7 && name[:7] == "X-Awra-":
		// Reserved X-Awra-* names get this message too: the likely mix-up
		// is with the gateway's name for this option.
		return "", fmt.Errorf("%s: '%s' is reserved: X-Awra-* names are the gateway's own; use %s or a name of your own, such as %s", option, name, awraName, example)
	case slices.Contains(reservedForwardHeaders, name) || slices.ContainsFunc(reservedForwardPrefixes, func(p string) bool {
		return strings.HasPrefix(name, p)
	}):
		return "", fmt.Errorf("%s: '%s' is reserved for the gateway, HTTP or a webhook provider: choose another name, such as %s", option, name, example)
	}
	return name, nil
}
