package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testNow is the fixed clock of the table tests.
var testNow = time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z

// fixture describes one provider for the table tests. build is a reference
// signer written here with crypto/hmac alone, so that the tests do not
// check the package against itself.
type fixture struct {
	name        string
	config      func(secrets ...string) Config
	newSecret   func(t testing.TB) string
	build       func(secret, stamp, id string, body []byte) http.Header
	sigHeader   string
	stampHeader string // "" when the scheme has no timestamp
	idHeader    string // "" when the scheme has no signed id
	encoding    string // "hex" or "base64"

	// split cuts a signature header value into the text before the
	// encoded signature, the signature and the text after it.
	split func(value string) (pre, sig, post string)

	// badPrefixes replace pre in the malformed-header cases: wrong
	// scheme names and wrong letter case.
	badPrefixes map[string]func(pre string) string
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("rand.Read: %v", err)
	}
	return b
}

func rawSecret(t testing.TB) string { return hex.EncodeToString(randomBytes(t, 32)) }

func stripeSecret(t testing.TB) string {
	return "whsec_" + base64.RawURLEncoding.EncodeToString(randomBytes(t, 24))
}

func standardSecret(t testing.TB) string {
	return "whsec_" + base64.StdEncoding.EncodeToString(randomBytes(t, 32))
}

func refMAC(newHash func() hash.Hash, key []byte, parts ...string) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func standardKey(secret string) []byte {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic("test secret is not base64: " + err.Error())
	}
	return key
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func cutAfter(sep string) func(string) (string, string, string) {
	return func(v string) (string, string, string) {
		i := strings.LastIndex(v, sep)
		if i < 0 {
			return "", v, ""
		}
		return v[:i+len(sep)], v[i+len(sep):], ""
	}
}

func noPrefix(v string) (string, string, string) { return "", v, "" }

func simpleConfig(provider string) func(...string) Config {
	return func(secrets ...string) Config { return Config{Provider: provider, Secrets: secrets} }
}

// genericOptions is the "hmac" provider setup used by the table tests:
// prefix, timestamp and id all in play.
var genericOptions = HMACOptions{
	Header:          "X-Signature",
	Algorithm:       "sha256",
	Encoding:        "hex",
	Prefix:          "sha256=",
	TimestampHeader: "X-Timestamp",
	IDHeader:        "X-Message-Id",
	Template:        "{id}:{timestamp}.{body}",
}

// genericBase64Options is a second "hmac" setup: SHA-512, base64, body
// only.
var genericBase64Options = HMACOptions{Header: "X-Body-Signature", Algorithm: "sha512", Encoding: "base64"}

var fixtures = []fixture{
	{
		name:      ProviderPaystack,
		config:    simpleConfig(ProviderPaystack),
		newSecret: rawSecret,
		build: func(secret, _, _ string, body []byte) http.Header {
			return header("x-paystack-signature", hex.EncodeToString(refMAC(sha512.New, []byte(secret), string(body))))
		},
		sigHeader: "X-Paystack-Signature",
		encoding:  "hex",
		split:     noPrefix,
		badPrefixes: map[string]func(string) string{
			"added prefix": func(string) string { return "sha512=" },
		},
	},
	{
		name:      ProviderQuickBooks,
		config:    simpleConfig(ProviderQuickBooks),
		newSecret: rawSecret,
		build: func(secret, _, _ string, body []byte) http.Header {
			return header("intuit-signature", base64.StdEncoding.EncodeToString(refMAC(sha256.New, []byte(secret), string(body))))
		},
		sigHeader: "Intuit-Signature",
		encoding:  "base64",
		split:     noPrefix,
		badPrefixes: map[string]func(string) string{
			"added prefix": func(string) string { return "sha256=" },
		},
	},
	{
		name:      ProviderStripe,
		config:    simpleConfig(ProviderStripe),
		newSecret: stripeSecret,
		build: func(secret, stamp, _ string, body []byte) http.Header {
			sig := hex.EncodeToString(refMAC(sha256.New, []byte(secret), stamp, ".", string(body)))
			return header("Stripe-Signature", "t="+stamp+",v1="+sig)
		},
		sigHeader:   "Stripe-Signature",
		stampHeader: "Stripe-Signature",
		encoding:    "hex",
		split:       cutAfter("v1="),
		badPrefixes: map[string]func(string) string{
			"v0 only":           func(pre string) string { return strings.Replace(pre, "v1=", "v0=", 1) },
			"v2 only":           func(pre string) string { return strings.Replace(pre, "v1=", "v2=", 1) },
			"upper-case V1":     func(pre string) string { return strings.Replace(pre, "v1=", "V1=", 1) },
			"upper-case T":      func(pre string) string { return strings.Replace(pre, "t=", "T=", 1) },
			"space after comma": func(pre string) string { return strings.Replace(pre, ",", ", ", 1) },
			"no timestamp":      func(string) string { return "v1=" },
			"timestamp twice":   func(pre string) string { return pre[:strings.Index(pre, "v1=")] + pre },
			"semicolons":        func(pre string) string { return strings.Replace(pre, ",", ";", 1) },
		},
	},
	{
		name:      ProviderGitHub,
		config:    simpleConfig(ProviderGitHub),
		newSecret: rawSecret,
		build: func(secret, _, _ string, body []byte) http.Header {
			return header("X-Hub-Signature-256", "sha256="+hex.EncodeToString(refMAC(sha256.New, []byte(secret), string(body))))
		},
		sigHeader: "X-Hub-Signature-256",
		encoding:  "hex",
		split:     cutAfter("sha256="),
		badPrefixes: map[string]func(string) string{
			"sha1 prefix":       func(string) string { return "sha1=" },
			"upper-case prefix": func(string) string { return "SHA256=" },
			"no prefix":         func(string) string { return "" },
			"colon prefix":      func(string) string { return "sha256:" },
		},
	},
	{
		name:      ProviderShopify,
		config:    simpleConfig(ProviderShopify),
		newSecret: rawSecret,
		build: func(secret, _, _ string, body []byte) http.Header {
			return header("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(refMAC(sha256.New, []byte(secret), string(body))))
		},
		sigHeader: "X-Shopify-Hmac-Sha256",
		encoding:  "base64",
		split:     noPrefix,
		badPrefixes: map[string]func(string) string{
			"added prefix": func(string) string { return "sha256=" },
		},
	},
	{
		name:      ProviderSlack,
		config:    simpleConfig(ProviderSlack),
		newSecret: rawSecret,
		build: func(secret, stamp, _ string, body []byte) http.Header {
			sig := hex.EncodeToString(refMAC(sha256.New, []byte(secret), "v0:", stamp, ":", string(body)))
			return header("X-Slack-Signature", "v0="+sig, "X-Slack-Request-Timestamp", stamp)
		},
		sigHeader:   "X-Slack-Signature",
		stampHeader: "X-Slack-Request-Timestamp",
		encoding:    "hex",
		split:       cutAfter("v0="),
		badPrefixes: map[string]func(string) string{
			"v1 prefix":         func(string) string { return "v1=" },
			"upper-case prefix": func(string) string { return "V0=" },
			"no prefix":         func(string) string { return "" },
		},
	},
	{
		name:      ProviderStandard,
		config:    simpleConfig(ProviderStandard),
		newSecret: standardSecret,
		build: func(secret, stamp, id string, body []byte) http.Header {
			sig := base64.StdEncoding.EncodeToString(refMAC(sha256.New, standardKey(secret), id, ".", stamp, ".", string(body)))
			return header("webhook-id", id, "webhook-timestamp", stamp, "webhook-signature", "v1,"+sig)
		},
		sigHeader:   "Webhook-Signature",
		stampHeader: "Webhook-Timestamp",
		idHeader:    "Webhook-Id",
		encoding:    "base64",
		split:       cutAfter("v1,"),
		badPrefixes: map[string]func(string) string{
			"v1a only":          func(string) string { return "v1a," },
			"v2 only":           func(string) string { return "v2," },
			"upper-case V1":     func(string) string { return "V1," },
			"equals separator":  func(string) string { return "v1=" },
			"no version":        func(string) string { return "" },
			"comma after space": func(string) string { return "v1, " },
		},
	},
	{
		name: ProviderHMAC,
		config: func(secrets ...string) Config {
			return Config{Provider: ProviderHMAC, Secrets: secrets, HMAC: genericOptions}
		},
		newSecret: rawSecret,
		build: func(secret, stamp, id string, body []byte) http.Header {
			sig := hex.EncodeToString(refMAC(sha256.New, []byte(secret), id, ":", stamp, ".", string(body)))
			return header("X-Signature", "sha256="+sig, "X-Timestamp", stamp, "X-Message-Id", id)
		},
		sigHeader:   "X-Signature",
		stampHeader: "X-Timestamp",
		idHeader:    "X-Message-Id",
		encoding:    "hex",
		split:       cutAfter("sha256="),
		badPrefixes: map[string]func(string) string{
			"upper-case prefix": func(string) string { return "SHA256=" },
			"sha512 prefix":     func(string) string { return "sha512=" },
			"no prefix":         func(string) string { return "" },
		},
	},
	{
		name: "hmac-sha512-base64",
		config: func(secrets ...string) Config {
			return Config{Provider: ProviderHMAC, Secrets: secrets, HMAC: genericBase64Options}
		},
		newSecret: rawSecret,
		build: func(secret, _, _ string, body []byte) http.Header {
			return header("X-Body-Signature", base64.StdEncoding.EncodeToString(refMAC(sha512.New, []byte(secret), string(body))))
		},
		sigHeader: "X-Body-Signature",
		encoding:  "base64",
		split:     noPrefix,
		badPrefixes: map[string]func(string) string{
			"added prefix": func(string) string { return "sha512=" },
		},
	},
}

func fixtureNamed(t *testing.T, name string) fixture {
	t.Helper()
	for _, f := range fixtures {
		if f.name == name {
			return f
		}
	}
	t.Fatalf("no fixture named %q", name)
	return fixture{}
}

// stamp returns the 10-digit text of testNow moved by offset.
func stamp(offset time.Duration) string {
	return strconv.FormatInt(testNow.Add(offset).Unix(), 10)
}

// sampleBody is a small JSON event in the style providers send.
var sampleBody = []byte(`{"id":"evt_1","type":"charge.succeeded","data":{"amount":1200,"currency":"ngn"}}`)

// body2K is a JSON body of exactly 2048 bytes for the benchmarks.
func body2K() []byte {
	b := []byte(`{"id":"evt_2k","type":"invoice.paid","data":{"note":"`)
	for len(b) < 2048-3 {
		b = append(b, 'x')
	}
	return append(b, `"}}`...)
}
