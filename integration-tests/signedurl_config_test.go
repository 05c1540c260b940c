package integrationtests

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestSignedURLBadConfig checks that a gateway whose awra_signed_url
// configuration is invalid does not start, and that its error names the
// setting without showing a secret.
func TestSignedURLBadConfig(t *testing.T) {
	t.Parallel()
	good := newURLKey(t, "k-good")
	short := newURLKey(t, "k-short")
	short.Secret = short.Secret[:31]
	if err := os.Setenv(short.EnvName, string(short.Secret)); err != nil {
		t.Fatalf("setting %s: %v", short.EnvName, err)
	}
	watchToken(short.ID, string(short.Secret))

	block := func(lines ...string) string {
		return "handle /files/* {\n\t\tawra_signed_url {\n\t\t\t" + strings.Join(lines, "\n\t\t\t") +
			"\n\t\t}\n\t\trespond 200\n\t}"
	}
	goodKey := "key " + good.ID + " {env." + good.EnvName + "}"

	tests := []struct {
		name    string
		routes  string
		wantLog string // a part of the start error
	}{
		{"secret too short", block("key " + short.ID + " {env." + short.EnvName + "}"), "secret of signing key 'k-short' is 31 bytes"},
		{"secret variable not set", block("key k-unset {env.AWRA_IT_URL_SECRET_NEVER_SET}"), "key 'k-unset': the secret '{env.AWRA_IT_URL_SECRET_NEVER_SET}' is empty"},
		{"invalid key id", block("key K_Upper {env." + good.EnvName + "}"), "invalid signing key id 'K_Upper'"},
		{"key id twice", block(goodKey, goodKey), "key 'k-good' is configured twice"},
		{"no key", block("max_ttl 1h"), "needs at least one 'key <id> <secret>' line"},
		{"key without secret", block("key " + good.ID), "'key' takes a key id and a secret"},
		{"max_ttl over 7 days", block(goodKey, "max_ttl 8d"), "invalid max_ttl"},
		{"max_ttl zero", block(goodKey, "max_ttl 0s"), "max_ttl: invalid duration '0s'"},
		{"clock_skew over 5 minutes", block(goodKey, "clock_skew 6m"), "invalid clock_skew"},
		{"max_ttl twice", block(goodKey, "max_ttl 1h", "max_ttl 2h"), "'max_ttl' is set twice"},
		{"unknown option", block(goodKey, "ttl 1h"), "unknown awra_signed_url option 'ttl'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, log := runGatewayUntilExit(t, gatewayConfig{Routes: tt.routes}, 10*time.Second)
			if code == 0 {
				t.Errorf("awragate exit code = 0, want non-zero")
			}
			if !strings.Contains(log, tt.wantLog) {
				t.Errorf("awragate log does not contain %q; log:\n%s", tt.wantLog, redact(log))
			}
			for _, k := range []urlKey{good, short} {
				if strings.Contains(log, string(k.Secret)) {
					t.Errorf("awragate log contains the secret of key '%s'", k.ID)
				}
			}
		})
	}
}
