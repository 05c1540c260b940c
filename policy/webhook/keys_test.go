package webhook

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

func mustVerify(t *testing.T, v *Verifier, h http.Header, body []byte) Result {
	t.Helper()
	r := v.Verify(testNow, h, body)
	if !r.OK() {
		t.Fatalf("Verify() reason = %q (detail %q), want success", r.Reason, r.Detail)
	}
	return r
}

func TestReplayKeyPresence(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			secret := f.newSecret(t)
			v := newVerifier(t, f, secret)
			r := mustVerify(t, v, f.build(secret, stamp(-10*time.Second), "msg_1", sampleBody), sampleBody)

			timestamped := f.stampHeader != ""
			if got := !r.ReplayKey.IsZero(); got != timestamped {
				t.Errorf("Verify() has replay key = %v, want %v", got, timestamped)
			}
			if r.DuplicateKey.IsZero() {
				t.Errorf("Verify() duplicate key is zero, want a digest")
			}
			if r.ReplayKey == r.DuplicateKey {
				t.Errorf("Verify() replay key equals duplicate key")
			}
			if timestamped {
				wantExpiry := testNow.Add(-10 * time.Second).Add(DefaultTolerance)
				if !r.ReplayExpires.Equal(wantExpiry) {
					t.Errorf("Verify() replay expiry = %v, want %v", r.ReplayExpires, wantExpiry)
				}
			} else if !r.ReplayExpires.IsZero() || !r.Timestamp.IsZero() {
				t.Errorf("Verify() replay expiry = %v, timestamp = %v, want both zero", r.ReplayExpires, r.Timestamp)
			}
		})
	}
}

func TestKeysFollowSignedMaterial(t *testing.T) {
	otherBody := []byte(`{"id":"evt_2"}`)
	for _, f := range fixtures {
		if f.stampHeader == "" {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			secret := f.newSecret(t)
			v := newVerifier(t, f, secret)
			base := mustVerify(t, v, f.build(secret, stamp(0), "msg_1", sampleBody), sampleBody)
			again := mustVerify(t, v, f.build(secret, stamp(0), "msg_1", sampleBody), sampleBody)
			retry := mustVerify(t, v, f.build(secret, stamp(time.Minute), "msg_1", sampleBody), sampleBody)
			other := mustVerify(t, v, f.build(secret, stamp(0), "msg_1", otherBody), otherBody)

			if again.ReplayKey != base.ReplayKey {
				t.Errorf("replay key of identical signed bytes differs")
			}
			if retry.ReplayKey == base.ReplayKey {
				t.Errorf("replay key ignores the timestamp")
			}
			if other.ReplayKey == base.ReplayKey {
				t.Errorf("replay key ignores the body")
			}
			if retry.DuplicateKey != base.DuplicateKey {
				t.Errorf("duplicate key of a re-sent event (new timestamp) differs")
			}
			if f.name == ProviderStandard {
				if other.DuplicateKey != base.DuplicateKey {
					t.Errorf("standard duplicate key depends on the body, want the message id only")
				}
				newID := mustVerify(t, v, f.build(secret, stamp(0), "msg_2", sampleBody), sampleBody)
				if newID.DuplicateKey == base.DuplicateKey || newID.ReplayKey == base.ReplayKey {
					t.Errorf("standard keys ignore the message id")
				}
			} else if other.DuplicateKey == base.DuplicateKey {
				t.Errorf("duplicate key ignores the body")
			}
		})
	}
}

func TestDuplicateKeyScopedByProvider(t *testing.T) {
	seen := map[Digest]string{}
	for _, f := range fixtures {
		if f.config("x").Provider == ProviderHMAC && f.name != ProviderHMAC {
			continue // same provider name as the other generic fixture
		}
		secret := f.newSecret(t)
		r := mustVerify(t, newVerifier(t, f, secret), f.build(secret, stamp(0), "msg_1", sampleBody), sampleBody)
		if prev, ok := seen[r.DuplicateKey]; ok {
			t.Errorf("duplicate key of %s equals that of %s for the same body", f.name, prev)
		}
		seen[r.DuplicateKey] = f.name
	}
}

func TestReplayKeyIndependentOfMatchedSecret(t *testing.T) {
	// The same signed bytes must give the same key whichever rotation
	// secret an attacker leaves in the header.
	first, second := standardSecret(t), standardSecret(t)
	ts, id := stamp(0), "msg_rot"
	sigOf := func(secret string) string {
		return "v1," + base64.StdEncoding.EncodeToString(refMAC(sha256.New, standardKey(secret), id, ".", ts, ".", string(sampleBody)))
	}
	v, err := New(Config{Provider: ProviderStandard, Secrets: []string{first, second}})
	if err != nil {
		t.Fatal(err)
	}
	both := mustVerify(t, v, header("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sigOf(first)+" "+sigOf(second)), sampleBody)
	onlySecond := mustVerify(t, v, header("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sigOf(second)), sampleBody)
	if both.ReplayKey != onlySecond.ReplayKey || both.DuplicateKey != onlySecond.DuplicateKey {
		t.Errorf("keys depend on which secret matched")
	}
	if both.SecretIndex != 0 || onlySecond.SecretIndex != 1 {
		t.Errorf("secret index = %d and %d, want 0 and 1", both.SecretIndex, onlySecond.SecretIndex)
	}
}

func TestDigestString(t *testing.T) {
	var d Digest
	if !d.IsZero() {
		t.Errorf("Digest{}.IsZero() = false, want true")
	}
	d[0], d[31] = 0xab, 0x01
	want := "ab" + strings.Repeat("0", 60) + "01"
	if got := d.String(); got != want {
		t.Errorf("Digest.String() = %q, want %q", got, want)
	}
}

func TestDeliveryID(t *testing.T) {
	tests := []struct {
		provider string
		h        http.Header
		want     string
	}{
		{ProviderGitHub, header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"), "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		{ProviderShopify, header("X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"), "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"},
		{ProviderStandard, header("webhook-id", "msg_1"), "msg_1"},
		{ProviderStandard, header("svix-id", "msg_2", "svix-signature", "v1,x"), "msg_2"},
		{ProviderGitHub, header("X-GitHub-Delivery", "a", "X-GitHub-Delivery", "b"), ""},
		{ProviderGitHub, header("X-GitHub-Delivery", "id with spaces"), ""},
		{ProviderGitHub, header("X-GitHub-Delivery", "log\ninjection"), ""},
		{ProviderGitHub, http.Header{}, ""},
		{ProviderStripe, header("Stripe-Signature", "t=1"), ""},
		{ProviderPaystack, header("X-Paystack-Signature", "x"), ""},
		{ProviderSlack, header("X-Slack-Retry-Num", "1"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.want, func(t *testing.T) {
			v, err := New(Config{Provider: tt.provider, Secrets: []string{secretFor(t, tt.provider)}})
			if err != nil {
				t.Fatal(err)
			}
			if got := v.DeliveryID(tt.h); got != tt.want {
				t.Errorf("DeliveryID() = %q, want %q", got, tt.want)
			}
		})
	}
}

func secretFor(t *testing.T, provider string) string {
	switch provider {
	case ProviderStripe:
		return stripeSecret(t)
	case ProviderStandard:
		return standardSecret(t)
	}
	return rawSecret(t)
}

func TestSignMatchesReference(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			secret := f.newSecret(t)
			v := newVerifier(t, f, secret, f.newSecret(t))
			got, err := v.Sign(testNow, "msg_1", sampleBody)
			if err != nil {
				t.Fatalf("Sign() error: %v", err)
			}
			want := f.build(secret, stamp(0), "msg_1", sampleBody)
			for name := range want {
				if got.Get(name) != want.Get(name) {
					t.Errorf("Sign() header %s differs from the reference signer", name)
				}
			}
			mustVerify(t, v, got, sampleBody)
		})
	}
}

func TestSignDeliveryHeader(t *testing.T) {
	h, err := Sign(Config{Provider: ProviderGitHub, Secrets: []string{rawSecret(t)}}, testNow, "delivery-1", sampleBody)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("X-GitHub-Delivery"); got != "delivery-1" {
		t.Errorf("Sign() X-GitHub-Delivery = %q, want %q", got, "delivery-1")
	}
}

func TestSignErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		now  time.Time
		id   string
	}{
		{"standard without id", Config{Provider: ProviderStandard, Secrets: []string{standardSecret(t)}}, testNow, ""},
		{"standard id with space", Config{Provider: ProviderStandard, Secrets: []string{standardSecret(t)}}, testNow, "a b"},
		{"hmac id with separator", Config{Provider: ProviderHMAC, Secrets: []string{rawSecret(t)}, HMAC: genericOptions}, testNow, "a:b"},
		{"stripe before 2001", Config{Provider: ProviderStripe, Secrets: []string{stripeSecret(t)}}, time.Unix(999999999, 0), ""},
		{"slack after 2286", Config{Provider: ProviderSlack, Secrets: []string{rawSecret(t)}}, time.Unix(10000000000, 0), ""},
		{"github bad delivery id", Config{Provider: ProviderGitHub, Secrets: []string{rawSecret(t)}}, testNow, "a\nb"},
		{"bad config", Config{Provider: "nope", Secrets: []string{"x"}}, testNow, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Sign(tt.cfg, tt.now, tt.id, sampleBody); err == nil {
				t.Errorf("Sign() error = nil, want an error")
			}
		})
	}
}
