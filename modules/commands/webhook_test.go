package commands

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/awra/awragate/policy/webhook"
)

// executeWebhook runs 'awragate webhook args...' in process with stdin.
func executeWebhook(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := &cobra.Command{Use: "awragate", SilenceUsage: true}
	wh := &cobra.Command{Use: "webhook", Short: "webhook"}
	configureWebhookCommand(wh)
	root.AddCommand(wh)

	var out, errOut bytes.Buffer
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"webhook"}, args...))
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// parseHeaderLines reads "Name: value" lines.
func parseHeaderLines(t *testing.T, out string) http.Header {
	t.Helper()
	h := http.Header{}
	for line := range strings.Lines(out) {
		name, value, ok := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
		if !ok {
			t.Fatalf("output line %q is not 'Name: value'", line)
		}
		h.Add(name, value)
	}
	return h
}

func TestWebhookSignVerifies(t *testing.T) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	t.Setenv("AWRA_TEST_WEBHOOK_SECRET", secret)
	body := "{\"id\":\"evt_1\"}\n"
	stamp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	tests := []struct {
		name  string
		args  []string
		wantN int // header lines
	}{
		{"stripe", []string{"--provider", "stripe"}, 1},
		{"standard with id", []string{"--provider", "standard", "--id", "msg_1"}, 3},
		{"standard without id", []string{"--provider", "standard"}, 3},
		{"github with delivery id", []string{"--provider", "github", "--id", "d-1"}, 2},
		{"hmac", []string{"--provider", "hmac", "--header", "X-Sig", "--algorithm", "sha512", "--encoding", "base64",
			"--timestamp-header", "X-Ts", "--template", "{timestamp}:{body}"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"sign", "--secret-env", "AWRA_TEST_WEBHOOK_SECRET", "--timestamp", "2026-01-01T00:00:00Z"}, tt.args...)
			stdout, stderr, err := executeWebhook(t, body, args...)
			if err != nil {
				t.Fatalf("webhook %s: %v; stderr: %s", strings.Join(args, " "), err, stderr)
			}
			if strings.Contains(stdout+stderr, secret) {
				t.Fatal("the output contains the secret")
			}
			h := parseHeaderLines(t, stdout)
			if got := strings.Count(stdout, "\n"); got != tt.wantN {
				t.Errorf("output has %d lines, want %d:\n%s", got, tt.wantN, stdout)
			}

			cfg := webhook.Config{Provider: tt.args[1], Secrets: []string{secret}}
			if cfg.Provider == "hmac" {
				cfg.HMAC = webhook.HMACOptions{Header: "X-Sig", Algorithm: "sha512", Encoding: "base64", TimestampHeader: "X-Ts", Template: "{timestamp}:{body}"}
			}
			v, err := webhook.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res := v.Verify(stamp, h, []byte(body)); !res.OK() {
				t.Errorf("Verify(output headers) = %s (%s), want OK", res.Reason, res.Detail)
			}
		})
	}
}

func TestWebhookSignErrors(t *testing.T) {
	secret := "sk_test_" + rand.Text()
	t.Setenv("AWRA_TEST_WEBHOOK_SECRET", secret)
	t.Setenv("AWRA_TEST_WEBHOOK_EMPTY", "")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no subcommand", nil, "missing subcommand"},
		{"unknown subcommand", []string{"verify"}, "unknown subcommand 'verify'"},
		{"no provider", []string{"sign", "--secret-env", "AWRA_TEST_WEBHOOK_SECRET"}, "--provider is missing"},
		{"no secret-env", []string{"sign", "--provider", "paystack"}, "--secret-env is missing"},
		{"empty secret", []string{"sign", "--provider", "paystack", "--secret-env", "AWRA_TEST_WEBHOOK_EMPTY"}, "empty or not set"},
		{"timestamp words", []string{"sign", "--provider", "slack", "--secret-env", "AWRA_TEST_WEBHOOK_SECRET", "--timestamp", "now"}, "--timestamp 'now'"},
		{"timestamp negative", []string{"sign", "--provider", "slack", "--secret-env", "AWRA_TEST_WEBHOOK_SECRET", "--timestamp", "-5"}, "--timestamp '-5'"},
		{"stripe secret format", []string{"sign", "--provider", "stripe", "--secret-env", "AWRA_TEST_WEBHOOK_SECRET"}, "not a Stripe endpoint signing secret"},
		{"bad id", []string{"sign", "--provider", "standard", "--secret-env", "AWRA_TEST_WEBHOOK_SECRET", "--id", "has space"}, "signing the body"},
		{"extra argument", []string{"sign", "--provider", "paystack", "--secret-env", "AWRA_TEST_WEBHOOK_SECRET", "body.json"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := executeWebhook(t, "{}", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("webhook %s = %v, want an error containing %q", strings.Join(tt.args, " "), err, tt.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Error("the error contains the secret")
			}
		})
	}
}
