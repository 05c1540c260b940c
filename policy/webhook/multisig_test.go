package webhook

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/awra/awragate/policy"
)

func TestStripeSeveralSignatures(t *testing.T) {
	first, second := stripeSecret(t), stripeSecret(t)
	ts := stamp(0)
	sigOf := func(secret string) string {
		return hex.EncodeToString(refMAC(sha256.New, []byte(secret), ts, ".", string(sampleBody)))
	}
	decoy := func() string { return hex.EncodeToString(randomBytes(t, 32)) }
	good := sigOf(first)

	tests := []struct {
		name   string
		value  string
		want   policy.Reason
		secret int
	}{
		{"match first of two", "t=" + ts + ",v1=" + good + ",v1=" + decoy(), policy.ReasonNone, 0},
		{"match last of three", "t=" + ts + ",v1=" + decoy() + ",v1=" + decoy() + ",v1=" + good, policy.ReasonNone, 0},
		{"match with v0 present", "t=" + ts + ",v1=" + good + ",v0=" + decoy(), policy.ReasonNone, 0},
		{"timestamp last", "v1=" + good + ",t=" + ts, policy.ReasonNone, 0},
		{"unknown scheme ignored", "t=" + ts + ",v9=anything,v1=" + good, policy.ReasonNone, 0},
		{"second secret matches", "t=" + ts + ",v1=" + decoy() + ",v1=" + sigOf(second), policy.ReasonNone, 1},
		{"only decoys", "t=" + ts + ",v1=" + decoy() + ",v1=" + decoy(), policy.ReasonSignatureInvalid, 0},
		{"good one as v0", "t=" + ts + ",v0=" + good + ",v1=" + decoy(), policy.ReasonSignatureInvalid, 0},
		{"one malformed v1 among good", "t=" + ts + ",v1=" + good + ",v1=zz", policy.ReasonSignatureInvalid, 0},
		{"eight v1", "t=" + ts + strings.Repeat(",v1="+decoy(), 7) + ",v1=" + good, policy.ReasonNone, 0},
		{"nine v1", "t=" + ts + strings.Repeat(",v1="+decoy(), 8) + ",v1=" + good, policy.ReasonSignatureInvalid, 0},
		{"seventeen items", "t=" + ts + ",v1=" + good + strings.Repeat(",v0=x", 15), policy.ReasonSignatureInvalid, 0},
		{"empty item", "t=" + ts + ",,v1=" + good, policy.ReasonSignatureInvalid, 0},
		{"trailing comma", "t=" + ts + ",v1=" + good + ",", policy.ReasonSignatureInvalid, 0},
		{"empty v0 value", "t=" + ts + ",v1=" + good + ",v0=", policy.ReasonSignatureInvalid, 0},
		{"item without equals", "t=" + ts + ",v1=" + good + ",v0", policy.ReasonSignatureInvalid, 0},
		{"equals in timestamp", "t=" + ts + "=1,v1=" + good, policy.ReasonSignatureInvalid, 0},
	}
	v, err := New(Config{Provider: ProviderStripe, Secrets: []string{first, second}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := v.Verify(testNow, http.Header{"Stripe-Signature": {tt.value}}, sampleBody)
			checkResult(t, r, tt.want)
			if r.OK() && r.SecretIndex != tt.secret {
				t.Errorf("Verify() secret index = %d, want %d", r.SecretIndex, tt.secret)
			}
		})
	}
}

func TestStandardSeveralSignatures(t *testing.T) {
	first, second := standardSecret(t), standardSecret(t)
	ts, id := stamp(0), "msg_rotation"
	sigOf := func(secret string) string {
		return base64.StdEncoding.EncodeToString(refMAC(sha256.New, standardKey(secret), id, ".", ts, ".", string(sampleBody)))
	}
	decoy := func() string { return base64.StdEncoding.EncodeToString(randomBytes(t, 32)) }
	good := sigOf(first)

	tests := []struct {
		name   string
		value  string
		want   policy.Reason
		secret int
	}{
		{"match first of two", "v1," + good + " v1," + decoy(), policy.ReasonNone, 0},
		{"match last of three", "v1," + decoy() + " v1," + decoy() + " v1," + good, policy.ReasonNone, 0},
		{"asymmetric entry ignored", "v1a," + decoy() + decoy() + " v1," + good, policy.ReasonNone, 0},
		{"future version ignored", "v2,anything v1," + good, policy.ReasonNone, 0},
		{"second secret matches", "v1," + decoy() + " v1," + sigOf(second), policy.ReasonNone, 1},
		{"only decoys", "v1," + decoy() + " v1," + decoy(), policy.ReasonSignatureInvalid, 0},
		{"good one as v1a", "v1a," + good + " v1," + decoy(), policy.ReasonSignatureInvalid, 0},
		{"one malformed v1 among good", "v1," + good + " v1,abc", policy.ReasonSignatureInvalid, 0},
		{"two spaces", "v1," + decoy() + "  v1," + good, policy.ReasonSignatureInvalid, 0},
		{"comma separated", "v1," + decoy() + ",v1," + good, policy.ReasonSignatureInvalid, 0},
		{"tab separated", "v1," + decoy() + "\tv1," + good, policy.ReasonSignatureInvalid, 0},
		{"entry without comma", "v1 v1," + good, policy.ReasonSignatureInvalid, 0},
		{"empty version", ",abc v1," + good, policy.ReasonSignatureInvalid, 0},
		{"eight v1", strings.Repeat("v1,"+decoy()+" ", 7) + "v1," + good, policy.ReasonNone, 0},
		{"nine v1", strings.Repeat("v1,"+decoy()+" ", 8) + "v1," + good, policy.ReasonSignatureInvalid, 0},
		{"seventeen entries", "v1," + good + strings.Repeat(" v2,x", 16), policy.ReasonSignatureInvalid, 0},
	}
	v, err := New(Config{Provider: ProviderStandard, Secrets: []string{first, second}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := header("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", tt.value)
			r := v.Verify(testNow, h, sampleBody)
			checkResult(t, r, tt.want)
			if r.OK() && r.SecretIndex != tt.secret {
				t.Errorf("Verify() secret index = %d, want %d", r.SecretIndex, tt.secret)
			}
		})
	}
}

func TestStandardHeaderSets(t *testing.T) {
	secret := standardSecret(t)
	ts, id := stamp(0), "msg_sets"
	sig := "v1," + base64.StdEncoding.EncodeToString(refMAC(sha256.New, standardKey(secret), id, ".", ts, ".", string(sampleBody)))
	v, err := New(Config{Provider: ProviderStandard, Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		h    http.Header
		want policy.Reason
	}{
		{"webhook headers", header("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig), policy.ReasonNone},
		{"svix headers", header("svix-id", id, "svix-timestamp", ts, "svix-signature", sig), policy.ReasonNone},
		{"both sets", header("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig, "svix-id", id, "svix-timestamp", ts, "svix-signature", sig), policy.ReasonNone},
		{"webhook signature with svix id", header("svix-id", id, "webhook-timestamp", ts, "webhook-signature", sig), policy.ReasonSignatureMissing},
		{"svix signature with webhook timestamp", header("svix-id", id, "webhook-timestamp", ts, "svix-signature", sig), policy.ReasonSignatureMissing},
		{"webhook set chosen over broken svix set", header("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig, "svix-signature", "garbage"), policy.ReasonNone},
		{"id of the other set ignored", header("webhook-id", "msg_other", "svix-id", id, "svix-timestamp", ts, "svix-signature", sig), policy.ReasonNone},
		{"no headers", http.Header{}, policy.ReasonSignatureMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkResult(t, v.Verify(testNow, tt.h, sampleBody), tt.want)
		})
	}
}
