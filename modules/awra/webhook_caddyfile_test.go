package awra

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/awra/awragate/policy/webhook"
)

func TestWebhookUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  Webhook
	}{
		{
			name: "design example",
			input: `awra_webhook {
				provider paystack
				secret {env.PAYSTACK_SECRET}
				max_body 1MiB
			}`,
			want: Webhook{Provider: "paystack", Secrets: []string{"{env.PAYSTACK_SECRET}"}, MaxBody: 1 << 20},
		},
		{
			name: "every option",
			input: `awra_webhook hmac {
				secret {env.OLD}
				secret {env.NEW}
				tolerance 2m
				max_body 512KB
				source_cidrs 203.0.113.0/24
				source_cidrs 2001:db8::/32 198.51.100.7
				replay_window 3d
				max_deliveries 5
				header X-Signature
				algorithm sha512
				encoding base64
				prefix v1=
				timestamp_header X-Timestamp
				id_header X-Event-Id
				template {id}.{timestamp}.{body}
			}`,
			want: Webhook{
				Provider:        "hmac",
				Secrets:         []string{"{env.OLD}", "{env.NEW}"},
				Tolerance:       caddy.Duration(2 * time.Minute),
				MaxBody:         512000,
				SourceCIDRs:     []string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.7"},
				ReplayWindow:    caddy.Duration(72 * time.Hour),
				MaxDeliveries:   5,
				Header:          "X-Signature",
				Algorithm:       "sha512",
				Encoding:        "base64",
				Prefix:          "v1=",
				TimestampHeader: "X-Timestamp",
				IDHeader:        "X-Event-Id",
				Template:        "{id}.{timestamp}.{body}",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Webhook
			if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatalf("UnmarshalCaddyfile: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("UnmarshalCaddyfile(%s)\n got %+v\nwant %+v", tt.name, got, tt.want)
			}
		})
	}
}

func TestWebhookUnmarshalCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr string
	}{
		{"no provider", "awra_webhook {\n secret {env.S}\n}", "needs a provider"},
		{"no secret", "awra_webhook {\n provider github\n}", "at least one 'secret"},
		{"provider twice", "awra_webhook github {\n provider stripe\n secret {env.S}\n}", "already set"},
		{"two arguments", "awra_webhook github stripe {\n secret {env.S}\n}", "wrong argument count"},
		{"secret without value", "awra_webhook github {\n secret\n}", "'secret' needs a value"},
		{"secret with two values", "awra_webhook github {\n secret a b\n}", "takes one value"},
		{"bad size", "awra_webhook github {\n secret {env.S}\n max_body lots\n}", "max_body: invalid size 'lots'"},
		{"zero size", "awra_webhook github {\n secret {env.S}\n max_body 0\n}", "max_body: invalid size '0'"},
		{"bad duration", "awra_webhook github {\n secret {env.S}\n tolerance soon\n}", "tolerance: invalid duration 'soon'"},
		{"negative duration", "awra_webhook github {\n secret {env.S}\n replay_window -1h\n}", "replay_window: invalid duration"},
		{"bad count", "awra_webhook github {\n secret {env.S}\n max_deliveries ten\n}", "max_deliveries: invalid number 'ten'"},
		{"repeated option", "awra_webhook github {\n secret {env.S}\n tolerance 1m\n tolerance 2m\n}", "'tolerance' is set twice"},
		{"source_cidrs empty", "awra_webhook github {\n secret {env.S}\n source_cidrs\n}", "at least one network"},
		{"unknown option", "awra_webhook github {\n secret {env.S}\n algorithmm sha256\n}", "unknown awra_webhook option 'algorithmm'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Webhook
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("UnmarshalCaddyfile() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWebhookCompileErrors(t *testing.T) {
	t.Setenv("AWRA_TEST_EMPTY_SECRET", "")
	secretValue := "sk_test_" + randomHex(16)
	t.Setenv("AWRA_TEST_SECRET", secretValue)

	tests := []struct {
		name    string
		h       Webhook
		wantErr string
	}{
		{"no provider", Webhook{Secrets: []string{"{env.AWRA_TEST_SECRET}"}}, "provider is missing"},
		{"unknown provider", Webhook{Provider: "paypal", Secrets: []string{"{env.AWRA_TEST_SECRET}"}}, "unknown webhook provider 'paypal'"},
		{"no secret", Webhook{Provider: "github"}, "no secret is configured"},
		{"empty placeholder", Webhook{Provider: "paystack", Secrets: []string{"{env.AWRA_TEST_SECRET}", "{env.AWRA_TEST_EMPTY_SECRET}"}},
			"webhook provider 'paystack': secret 2 ('{env.AWRA_TEST_EMPTY_SECRET}') is empty"},
		{"stripe secret without whsec_", Webhook{Provider: "stripe", Secrets: []string{"{env.AWRA_TEST_SECRET}"}}, "not a Stripe endpoint signing secret"},
		{"tolerance too wide", Webhook{Provider: "slack", Secrets: []string{"{env.AWRA_TEST_SECRET}"}, Tolerance: caddy.Duration(2 * time.Hour)}, "invalid webhook tolerance"},
		{"hmac options on github", Webhook{Provider: "github", Secrets: []string{"{env.AWRA_TEST_SECRET}"}, Header: "X-Sig"}, "hmac options are set"},
		{"hmac timestamp unsigned", Webhook{Provider: "hmac", Secrets: []string{"{env.AWRA_TEST_SECRET}"},
			Header: "X-Sig", Algorithm: "sha256", Encoding: "hex", TimestampHeader: "X-Ts", Template: "{body}"}, "timestamp"},
		{"hmac header reserved", Webhook{Provider: "hmac", Secrets: []string{"{env.AWRA_TEST_SECRET}"},
			Header: "x-awra-signature", Algorithm: "sha256", Encoding: "hex"}, "reserved for the gateway"},
		{"bad source network", Webhook{Provider: "github", Secrets: []string{"{env.AWRA_TEST_SECRET}"}, SourceCIDRs: []string{"10.0.0.1/8"}}, "source_cidrs: invalid network"},
		{"max_body too large", Webhook{Provider: "github", Secrets: []string{"{env.AWRA_TEST_SECRET}"}, MaxBody: 65 << 20}, "max_body: invalid size"},
		{"replay_window too short", Webhook{Provider: "github", Secrets: []string{"{env.AWRA_TEST_SECRET}"}, ReplayWindow: caddy.Duration(time.Second)}, "replay_window: invalid duration 1s"},
		{"max_deliveries too many", Webhook{Provider: "github", Secrets: []string{"{env.AWRA_TEST_SECRET}"}, MaxDeliveries: 5000}, "max_deliveries: invalid value 5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			h.logger = zap.NewNop()
			err := h.compile()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("compile() = %v, want an error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Error("the error contains the secret")
			}
		})
	}
}

func TestWebhookCompileDefaults(t *testing.T) {
	t.Setenv("AWRA_TEST_SECRET", "sk_test_"+randomHex(16))
	h := Webhook{Provider: "paystack", Secrets: []string{"{env.AWRA_TEST_SECRET}"}}
	h.logger = zap.NewNop()
	if err := h.compile(); err != nil {
		t.Fatal(err)
	}
	if h.maxBody != 1<<20 || h.window != 24*time.Hour || h.maxDeliveries != 10 || h.verifier.Tolerance() != 5*time.Minute {
		t.Errorf("defaults = max_body %d, replay_window %v, max_deliveries %d, tolerance %v; want 1MiB, 24h, 10, 5m",
			h.maxBody, h.window, h.maxDeliveries, h.verifier.Tolerance())
	}
}

func TestWebhookLiteralSecretWarning(t *testing.T) {
	secret := "sk_test_" + randomHex(16)
	core, logs := observer.New(zap.WarnLevel)
	h := Webhook{Provider: "paystack", Secrets: []string{secret}}
	h.logger = zap.New(core)
	if err := h.compile(); err != nil {
		t.Fatal(err)
	}
	entries := logs.All()
	if len(entries) != 1 || !strings.Contains(entries[0].Message, "placeholder") {
		t.Fatalf("warnings = %v, want one about placeholders", entries)
	}
	data, _ := json.Marshal(entries[0].ContextMap())
	if strings.Contains(entries[0].Message+string(data), secret) {
		t.Error("the warning contains the secret")
	}
}

func TestStoreKeyPrefixes(t *testing.T) {
	a, b := "sk_test_"+randomHex(16), "sk_test_"+randomHex(16)
	base := storeKeyPrefixes("paystack", hmacOptionsForTest(""), []string{a, b})
	if base[0] == base[1] {
		t.Error("two secrets share a key prefix")
	}
	for _, p := range base {
		id, hasPrefix := strings.CutPrefix(p, "awra:webhook:")
		id, hasSuffix := strings.CutSuffix(id, ":")
		if !hasPrefix || !hasSuffix || len(id) != 24 || strings.Trim(id, "0123456789abcdef") != "" || strings.Contains(p, a) || strings.Contains(p, b) {
			t.Errorf("prefix %q: want awra:webhook:<24 hex digits>: without a secret or a hash tag", p)
		}
	}

	tests := []struct {
		name     string
		got      []string
		wantSame bool
	}{
		{"same secret, rotation added one", storeKeyPrefixes("paystack", hmacOptionsForTest(""), []string{b, a}), true},
		{"same secret, other provider", storeKeyPrefixes("github", hmacOptionsForTest(""), []string{a}), false},
		{"same secret, other template", storeKeyPrefixes("paystack", hmacOptionsForTest("{timestamp}.{body}"), []string{a}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var match string
			for _, p := range tt.got {
				if p == base[0] {
					match = p
				}
			}
			if (match != "") != tt.wantSame {
				t.Errorf("prefixes %q share %q = %v, want %v", tt.got, base[0], match != "", tt.wantSame)
			}
		})
	}
}

func hmacOptionsForTest(template string) webhook.HMACOptions {
	return webhook.HMACOptions{Template: template}
}

// TestWebhookDirectiveOrder checks that awra_webhook runs before
// reverse_proxy even when written after it, with no order line.
func TestWebhookDirectiveOrder(t *testing.T) {
	const input = `:8080 {
	handle /hooks/stripe {
		reverse_proxy 127.0.0.1:9080
		awra_webhook stripe {
			secret {env.STRIPE_SECRET}
		}
	}
}`
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
	if err != nil {
		t.Fatalf("adapting: %v", err)
	}
	config := string(adapted)
	webhookAt := strings.Index(config, `"handler":"awra_webhook"`)
	proxyAt := strings.Index(config, `"handler":"reverse_proxy"`)
	if webhookAt < 0 || proxyAt < 0 || webhookAt > proxyAt {
		t.Errorf("adapted config has awra_webhook at %d and reverse_proxy at %d, want awra_webhook first:\n%s", webhookAt, proxyAt, config)
	}
	if !strings.Contains(config, `"secrets":["{env.STRIPE_SECRET}"]`) {
		t.Errorf("adapted config keeps no placeholder secret:\n%s", config)
	}
}
