package integrationtests

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// webhookProvider describes one awra_webhook provider for the black-box
// tests, with a signer written from the provider's documented scheme
// rather than taken from package webhook, so that the tests cross-check
// the gateway. The signer takes the timestamp as text, so tests can send
// timestamps the gateway must reject, such as milliseconds.
type webhookProvider struct {
	name string

	// newSecret returns a fresh secret in the provider's format.
	newSecret func(t testing.TB) string

	// options are extra awra_webhook lines (the generic hmac settings).
	options string

	// cliFlags are the matching 'awragate webhook sign' flags.
	cliFlags []string

	// signatureHeader carries the signature. timestampHeader and
	// idHeader carry the signed timestamp and id, or are "" when the
	// provider has none or (stripe) puts the timestamp inside the
	// signature header.
	signatureHeader string
	timestampHeader string
	idHeader        string

	// timestamped reports whether the provider signs a timestamp.
	timestamped bool

	// sign returns the headers of body signed with secret at stamp (10
	// or 13 digits, ignored without a timestamp) with message id id.
	sign func(secret, stamp, id string, body []byte) http.Header
}

func hmacSum(newHash func() hash.Hash, key []byte, parts ...string) []byte {
	mac := hmac.New(newHash, key)
	for _, p := range parts {
		mac.Write([]byte(p))
	}
	return mac.Sum(nil)
}

// randomText returns n random bytes as lower-case hex.
func randomText(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	return hex.EncodeToString(b)
}

// rawSecret returns a generated secret of prefix and 32 random bytes in
// hex, registered for the leak scans.
func rawSecret(prefix string) func(t testing.TB) string {
	return func(t testing.TB) string {
		secret := prefix + randomText(t, 32)
		watchSecret("webhook secret", strings.TrimPrefix(secret, prefix))
		return secret
	}
}

// standardSecret returns a Standard Webhooks secret: whsec_ and the base64
// of 32 random bytes.
func standardSecret(t testing.TB) string {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	encoded := base64.StdEncoding.EncodeToString(key)
	watchSecret("standard webhook secret", encoded)
	return "whsec_" + encoded
}

// webhookProviders are the eight providers awra_webhook accepts.
var webhookProviders = []webhookProvider{
	{
		name: "paystack", newSecret: rawSecret("sk_test_"),
		signatureHeader: "X-Paystack-Signature",
		sign: func(secret, _, _ string, body []byte) http.Header {
			return http.Header{"X-Paystack-Signature": {hex.EncodeToString(hmacSum(sha512.New, []byte(secret), string(body)))}}
		},
	},
	{
		name: "quickbooks", newSecret: rawSecret(""),
		signatureHeader: "Intuit-Signature",
		sign: func(secret, _, _ string, body []byte) http.Header {
			return http.Header{"Intuit-Signature": {base64.StdEncoding.EncodeToString(hmacSum(sha256.New, []byte(secret), string(body)))}}
		},
	},
	{
		name: "stripe", newSecret: rawSecret("whsec_"), timestamped: true,
		signatureHeader: "Stripe-Signature",
		sign: func(secret, stamp, _ string, body []byte) http.Header {
			sig := hex.EncodeToString(hmacSum(sha256.New, []byte(secret), stamp, ".", string(body)))
			return http.Header{"Stripe-Signature": {"t=" + stamp + ",v1=" + sig}}
		},
	},
	{
		name: "github", newSecret: rawSecret(""),
		signatureHeader: "X-Hub-Signature-256",
		sign: func(secret, _, id string, body []byte) http.Header {
			return http.Header{
				"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(hmacSum(sha256.New, []byte(secret), string(body)))},
				"X-Github-Delivery":   {id},
			}
		},
	},
	{
		name: "shopify", newSecret: rawSecret("shpss_"),
		signatureHeader: "X-Shopify-Hmac-Sha256",
		sign: func(secret, _, id string, body []byte) http.Header {
			return http.Header{
				"X-Shopify-Hmac-Sha256": {base64.StdEncoding.EncodeToString(hmacSum(sha256.New, []byte(secret), string(body)))},
				"X-Shopify-Webhook-Id":  {id},
			}
		},
	},
	{
		name: "slack", newSecret: rawSecret(""), timestamped: true,
		signatureHeader: "X-Slack-Signature", timestampHeader: "X-Slack-Request-Timestamp",
		sign: func(secret, stamp, _ string, body []byte) http.Header {
			sig := hex.EncodeToString(hmacSum(sha256.New, []byte(secret), "v0:", stamp, ":", string(body)))
			return http.Header{"X-Slack-Signature": {"v0=" + sig}, "X-Slack-Request-Timestamp": {stamp}}
		},
	},
	{
		name: "standard", newSecret: standardSecret, timestamped: true,
		signatureHeader: "Webhook-Signature", timestampHeader: "Webhook-Timestamp", idHeader: "Webhook-Id",
		sign: func(secret, stamp, id string, body []byte) http.Header {
			key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
			sig := base64.StdEncoding.EncodeToString(hmacSum(sha256.New, key, id, ".", stamp, ".", string(body)))
			return http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {stamp}, "Webhook-Signature": {"v1," + sig}}
		},
	},
	{
		name: "hmac", newSecret: rawSecret(""), timestamped: true,
		options: "header X-Signature\n\t\talgorithm sha256\n\t\tencoding hex\n\t\tprefix sha256=\n" +
			"\t\ttimestamp_header X-Timestamp\n\t\tid_header X-Event-Id\n\t\ttemplate {id}.{timestamp}.{body}",
		cliFlags: []string{"--header", "X-Signature", "--algorithm", "sha256", "--encoding", "hex", "--prefix", "sha256=",
			"--timestamp-header", "X-Timestamp", "--id-header", "X-Event-Id", "--template", "{id}.{timestamp}.{body}"},
		signatureHeader: "X-Signature", timestampHeader: "X-Timestamp", idHeader: "X-Event-Id",
		sign: func(secret, stamp, id string, body []byte) http.Header {
			sig := hex.EncodeToString(hmacSum(sha256.New, []byte(secret), id, ".", stamp, ".", string(body)))
			return http.Header{"X-Signature": {"sha256=" + sig}, "X-Timestamp": {stamp}, "X-Event-Id": {id}}
		},
	},
}

// watchSecret registers a generated webhook secret for the leak scans, in
// the map that watchToken fills for API keys.
func watchSecret(label, secret string) {
	leakWatch.mu.Lock()
	defer leakWatch.mu.Unlock()
	if leakWatch.secrets == nil {
		leakWatch.secrets = make(map[string]string)
	}
	leakWatch.secrets[secret] = label
}

var secretEnvSeq atomic.Int64

// secretEnv exports secret in a new environment variable of this test
// process, which every gateway started later inherits, and returns its
// name. Each name is used once, so parallel tests do not interfere.
func secretEnv(t testing.TB, secret string) string {
	t.Helper()
	name := fmt.Sprintf("AWRA_IT_WEBHOOK_SECRET_%d", secretEnvSeq.Add(1))
	if err := os.Setenv(name, secret); err != nil {
		t.Fatalf("setting %s: %v", name, err)
	}
	t.Cleanup(func() { os.Unsetenv(name) })
	return name
}
