package webhook

import (
	"net/textproto"
	"slices"
	"testing"
)

func TestProviderHeadersListsEveryScheme(t *testing.T) {
	got := ProviderHeaders()
	for _, want := range []string{
		"X-Paystack-Signature", "Intuit-Signature", "Stripe-Signature", "X-Hub-Signature-256",
		"X-Github-Delivery", "X-Shopify-Hmac-Sha256", "X-Shopify-Webhook-Id", "X-Slack-Signature",
		"X-Slack-Request-Timestamp", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature",
		"Svix-Id", "Svix-Timestamp", "Svix-Signature",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("ProviderHeaders() lacks %s: %v", want, got)
		}
	}
	for i, name := range got {
		if name == "" || name != textproto.CanonicalMIMEHeaderKey(name) {
			t.Errorf("ProviderHeaders()[%d] = %q, want a non-empty canonical name", i, name)
		}
		if i > 0 && got[i-1] >= name {
			t.Errorf("ProviderHeaders() is not sorted without duplicates at %q", name)
		}
	}
}
