package awra

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/webhook"
)

// rotationProvider is a provider whose deliveries carry one signature per
// secret during a rotation, in one header.
type rotationProvider struct {
	name      string
	newSecret func(t *testing.T) string
	header    string // the signature header
	id        string // message id to sign, "" for none

	// join builds the header value from the value that Sign returned for
	// the first secret and the signatures to send.
	join func(first string, sigs []string) string

	// signature returns the signature in a value that Sign returned.
	signature func(value string) string
}

var rotationProviders = []rotationProvider{
	{
		name:      "stripe",
		newSecret: func(*testing.T) string { return "whsec_" + randomHex(32) },
		header:    "Stripe-Signature",
		join: func(first string, sigs []string) string {
			stamp, _, _ := strings.Cut(first, ",")
			return stamp + "," + strings.Join(sigs, ",")
		},
		signature: func(value string) string {
			_, sig, _ := strings.Cut(value, ",")
			return sig
		},
	},
	{
		name:      "standard",
		newSecret: standardTestSecret,
		header:    "Webhook-Signature",
		id:        "msg_" + randomHex(8),
		join:      func(_ string, sigs []string) string { return strings.Join(sigs, " ") },
		signature: func(value string) string { return value },
	},
}

// standardTestSecret returns a Standard Webhooks secret: whsec_ and the
// base64 of 32 random bytes.
func standardTestSecret(t *testing.T) string {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// rotationHeaders returns the headers of body signed at now by each of
// secrets, and the signature of each secret alone.
func (p rotationProvider) rotationHeaders(t *testing.T, secrets []string, now time.Time, body []byte) (http.Header, []string) {
	t.Helper()
	var base http.Header
	sigs := make([]string, len(secrets))
	for i, secret := range secrets {
		h, err := webhook.Sign(webhook.Config{Provider: p.name, Secrets: []string{secret}}, now, p.id, body)
		if err != nil {
			t.Fatalf("signing with secret %d: %v", i+1, err)
		}
		if base == nil {
			base = h
		}
		sigs[i] = p.signature(h.Get(p.header))
	}
	return base, sigs
}

// withSignatures returns a copy of h that carries sigs only.
func (p rotationProvider) withSignatures(h http.Header, sigs ...string) http.Header {
	c := h.Clone()
	c.Set(p.header, p.join(h.Get(p.header), sigs))
	return c
}

// TestWebhookRotationReplay sends a delivery signed with both secrets of
// a rotation, and then the same signed bytes with only one signature, as
// an attacker who captured the delivery can. Each copy verifies with a
// secret of the route, and each must be recognised as a replay.
func TestWebhookRotationReplay(t *testing.T) {
	for _, s := range storesUnderTest(t) {
		for _, p := range rotationProviders {
			t.Run(s.name+"/"+p.name, func(t *testing.T) {
				newSecret, oldSecret := p.newSecret(t), p.newSecret(t)
				h, rec := newTestWebhook(t, &Webhook{Provider: p.name, Secrets: []string{newSecret, oldSecret}})
				h.store = s.store
				body := []byte(`{"id":"evt_` + randomHex(8) + `","type":"invoice.paid"}`)
				now := time.Now()
				base, sigs := p.rotationHeaders(t, []string{newSecret, oldSecret}, now, body)
				both := p.withSignatures(base, sigs...)
				onlyNew := p.withSignatures(base, sigs[0])
				onlyOld := p.withSignatures(base, sigs[1])
				if got := h.verifier.Verify(now, onlyOld, body); !got.OK() || got.SecretIndex != 1 {
					t.Fatalf("the copy with the old signature verifies as %q with secret %d, want a pass with secret 2", got.Reason, got.SecretIndex+1)
				}

				up := &fakeUpstream{}
				if w := serve(t, h, postWith(t, both, body), up); w.Code != http.StatusOK {
					t.Fatalf("delivery signed with both secrets = %d, want 200; body: %s", w.Code, w.Body)
				}
				for _, c := range []struct {
					name   string
					header http.Header
				}{
					{"the same bytes again", both},
					{"only the old secret's signature", onlyOld},
					{"only the new secret's signature", onlyNew},
				} {
					w := serve(t, h, postWith(t, c.header, body), up)
					if w.Code != http.StatusConflict {
						t.Errorf("%s = %d, want 409; body: %s", c.name, w.Code, w.Body)
						continue
					}
					checkDenial(t, w, rec, http.StatusConflict, policy.ReasonWebhookReplayed)
				}
				if up.calls() != 1 {
					t.Errorf("upstream calls = %d, want 1", up.calls())
				}
			})
		}
	}
}

// TestWebhookRotationRetryLimit checks that max_deliveries counts the
// attempts of an event once, whichever secret of the route verifies them.
func TestWebhookRotationRetryLimit(t *testing.T) {
	for _, p := range rotationProviders {
		t.Run(p.name, func(t *testing.T) {
			newSecret, oldSecret := p.newSecret(t), p.newSecret(t)
			h, rec := newTestWebhook(t, &Webhook{Provider: p.name, Secrets: []string{newSecret, oldSecret}, MaxDeliveries: 1})
			body := []byte(`{"id":"evt_` + randomHex(8) + `"}`)
			base, sigs := p.rotationHeaders(t, []string{newSecret, oldSecret}, time.Now(), body)

			up := &fakeUpstream{statuses: []int{http.StatusInternalServerError}}
			if w := serve(t, h, postWith(t, p.withSignatures(base, sigs...), body), up); w.Code != http.StatusInternalServerError {
				t.Fatalf("delivery signed with both secrets = %d, want the upstream's 500", w.Code)
			}
			w := serve(t, h, postWith(t, p.withSignatures(base, sigs[1]), body), up)
			checkDenial(t, w, rec, http.StatusTooManyRequests, policy.ReasonRetryLimitExceeded)
			if up.calls() != 1 {
				t.Errorf("upstream calls = %d, want 1", up.calls())
			}
		})
	}
}

// TestWebhookDeliveryKeysShareSlot checks the key layout: one key of each
// kind per secret, under that secret's prefix, and the event digest as
// the Redis Cluster hash tag of every key, so the scripts may touch them
// together.
func TestWebhookDeliveryKeysShareSlot(t *testing.T) {
	p := rotationProviders[0]
	secrets := []string{p.newSecret(t), p.newSecret(t), p.newSecret(t)}
	h, _ := newTestWebhook(t, &Webhook{Provider: p.name, Secrets: secrets})
	body := []byte(`{"id":"evt_slot"}`)
	now := time.Now()
	base, sigs := p.rotationHeaders(t, secrets, now, body)
	res := h.verifier.Verify(now, p.withSignatures(base, sigs[2]), body)
	if !res.OK() {
		t.Fatalf("Verify = %q, want a pass", res.Reason)
	}
	k := h.deliveryKeys(&res, "request-1", now)

	dup := res.DuplicateKey.String()
	if len(k.events) != 3 || len(k.counts) != 3 || len(k.replays) != 3 {
		t.Fatalf("keys per kind = %d, %d, %d, want 3 each", len(k.events), len(k.counts), len(k.replays))
	}
	seen := make(map[string]bool)
	for i, prefix := range h.keyPrefixes {
		want := []string{
			prefix + "{" + dup + "}:e",
			prefix + "{" + dup + "}:n",
			prefix + "{" + dup + "}:r:" + res.ReplayKey.String(),
		}
		for j, got := range []string{k.events[i], k.counts[i], k.replays[i]} {
			if got != want[j] {
				t.Errorf("key = %q, want %q", got, want[j])
			}
			if tag := hashTag(got); tag != dup {
				t.Errorf("hash tag of %q = %q, want the event digest", got, tag)
			}
			if seen[got] {
				t.Errorf("key %q is named twice", got)
			}
			seen[got] = true
		}
	}
}

// hashTag returns the part of key that Redis Cluster hashes: the text
// between the first "{" and the next "}" when it is not empty, else the
// whole key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// postWith returns a POST of body with a copy of header.
func postWith(t *testing.T, header http.Header, body []byte) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/hooks/test", bytes.NewReader(body))
	r.Header = header.Clone()
	return r
}
