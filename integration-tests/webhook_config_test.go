package integrationtests

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestWebhookConfigStopsLoading checks that a configuration that could let
// unsigned deliveries through keeps the gateway from starting, with an
// error that names the setting and never the secret.
func TestWebhookConfigStopsLoading(t *testing.T) {
	t.Parallel()
	paystackSecret := rawSecret("sk_test_")(t)
	apiKeyAsStripeSecret := rawSecret("sk_live_")(t)
	paystackEnv := secretEnv(t, paystackSecret)
	stripeEnv := secretEnv(t, apiKeyAsStripeSecret)
	unset := fmt.Sprintf("AWRA_IT_WEBHOOK_UNSET_%d", secretEnvSeq.Add(1))

	tests := []struct {
		name    string
		block   string
		wantLog []string
	}{
		{
			name:    "secret variable unset",
			block:   "awra_webhook paystack {\n\tsecret {env." + unset + "}\n}",
			wantLog: []string{"webhook provider 'paystack': secret 1 ('{env." + unset + "}') is empty after placeholder replacement"},
		},
		{
			name:    "second secret unset",
			block:   "awra_webhook github {\n\tsecret {env." + paystackEnv + "}\n\tsecret {env." + unset + "}\n}",
			wantLog: []string{"webhook provider 'github': secret 2"},
		},
		{
			name:    "stripe secret is an API key",
			block:   "awra_webhook stripe {\n\tsecret {env." + stripeEnv + "}\n}",
			wantLog: []string{"secret 1 is not a Stripe endpoint signing secret"},
		},
		{
			name:    "unknown provider",
			block:   "awra_webhook paypal {\n\tsecret {env." + paystackEnv + "}\n}",
			wantLog: []string{"unknown webhook provider 'paypal'"},
		},
		{
			name: "hmac timestamp not signed",
			block: "awra_webhook hmac {\n\tsecret {env." + paystackEnv + "}\n\theader X-Signature\n\talgorithm sha256\n" +
				"\tencoding hex\n\ttimestamp_header X-Timestamp\n\ttemplate {body}\n}",
			wantLog: []string{"webhook provider 'hmac'"},
		},
		{
			name:    "hmac options on another provider",
			block:   "awra_webhook paystack {\n\tsecret {env." + paystackEnv + "}\n\theader X-Signature\n}",
			wantLog: []string{"hmac options are set for provider 'paystack'"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, log := runGatewayUntilExit(t, gatewayConfig{
				Routes: "handle /hooks/* {\n" + tt.block + "\nrespond 204\n}",
			}, 10*time.Second)
			if code == 0 {
				t.Errorf("awragate exit code = 0, want non-zero; log:\n%s", redact(log))
			}
			for _, want := range tt.wantLog {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q; log:\n%s", want, redact(log))
				}
			}
			checkNoTokens(t, "the log of a rejected configuration", []byte(log))
		})
	}
}

// TestWebhookSignCLI checks 'awragate webhook sign' against the signers
// written here from the providers' documentation, and its errors.
func TestWebhookSignCLI(t *testing.T) {
	t.Parallel()
	const stamp = "1767225600"
	body := []byte("{\"id\":\"evt_cli\",\"note\":\"Zoë\"}\n")

	for _, p := range webhookProviders {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			secret := p.newSecret(t)
			env := secretEnv(t, secret)
			var id string
			if p.idHeader != "" || p.name == "github" || p.name == "shopify" {
				id = "msg_cli_1"
			}
			got := signWithCLI(t, p, env, stamp, id, body)
			want := p.sign(secret, stamp, id, body)
			if !headersEqual(got, want) {
				t.Errorf("awragate webhook sign --provider %s = %v, want %v", p.name, got, want)
			}
		})
	}

	errorTests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"no provider", []string{"--secret-env", "X"}, "--provider is missing"},
		{"no secret-env", []string{"--provider", "paystack"}, "--secret-env is missing"},
		{"secret variable unset", []string{"--provider", "paystack", "--secret-env", "AWRA_IT_WEBHOOK_NEVER_SET"}, "AWRA_IT_WEBHOOK_NEVER_SET: the environment variable is empty or not set"},
		{"bad timestamp", []string{"--provider", "slack", "--secret-env", "AWRA_IT_CLI_SECRET", "--timestamp", "soon"}, "--timestamp 'soon'"},
		{"unknown provider", []string{"--provider", "paypal", "--secret-env", "AWRA_IT_CLI_SECRET"}, "unknown webhook provider 'paypal'"},
	}
	cliSecret := rawSecret("")(t)
	for _, tt := range errorTests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, suite.binary, append([]string{"webhook", "sign"}, tt.args...)...)
			cmd.Env = append(os.Environ(), "AWRA_IT_CLI_SECRET="+cliSecret)
			cmd.Stdin = strings.NewReader("{}")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if err == nil {
				t.Fatalf("awragate webhook sign %s succeeded, want an error", strings.Join(tt.args, " "))
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", redact(stdout.String()))
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", redact(stderr.String()), tt.wantStderr)
			}
			checkNoTokens(t, "the stderr of awragate webhook sign", stderr.Bytes())
		})
	}
}

// headersEqual compares two header sets, names canonical.
func headersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for name, values := range a {
		if strings.Join(values, "\n") != strings.Join(b.Values(name), "\n") {
			return false
		}
	}
	return true
}
