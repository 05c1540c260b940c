package commands

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/awra/awragate/policy/webhook"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "webhook",
		Usage: "sign --provider <name> --secret-env <NAME> [--timestamp <time>] [--id <id>] [hmac flags] < body",
		Short: "Signs a webhook body the way a provider does, for tests",
		Long: `
Tools for awra_webhook routes.

'webhook sign' reads a body from standard input and prints the headers a
provider would send with it, one 'Name: value' line each, sorted by name,
and nothing else. Send the body byte for byte, without a trailing newline
unless it was signed with one.

The secret is read from the environment variable named by --secret-env,
never from a flag, so it stays out of shell history and process lists.
--timestamp takes Unix seconds or an RFC 3339 time (default: now). --id
sets the message id of 'standard' and of 'hmac' with --id-header (a random
msg_ id when omitted), and the delivery id header of 'github' and
'shopify'. The hmac flags match the awra_webhook options of the same
names.
`,
		CobraFunc: configureWebhookCommand,
	})
}

// maxSignBody bounds the body read from standard input, matching the
// largest max_body a route accepts.
const maxSignBody = 64 << 20

type webhookSignArgs struct {
	provider  string
	secretEnv string
	timestamp string
	id        string
	hmac      webhook.HMACOptions
}

// configureWebhookCommand adds the sign subcommand. Each call binds fresh
// flag variables, so every test can build a command of its own.
func configureWebhookCommand(cmd *cobra.Command) {
	cmd.Args = cobra.ArbitraryArgs
	cmd.SilenceUsage = true
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("missing subcommand: use 'sign'; see 'awragate webhook --help'")
		}
		return fmt.Errorf("unknown subcommand '%s': use 'sign'", args[0])
	}

	var a webhookSignArgs
	sign := newSubcommand("sign", "Prints the signature headers of a webhook body read from standard input", `
Reads the body from standard input and prints the headers the provider
would send with it, one 'Name: value' line each, sorted by name.
`)
	f := sign.Flags()
	f.StringVar(&a.provider, "provider", "", "provider: "+strings.Join(webhook.Providers(), ", "))
	f.StringVar(&a.secretEnv, "secret-env", "", "name of the environment variable that holds the signing secret")
	f.StringVar(&a.timestamp, "timestamp", "", "signing time as Unix seconds or an RFC 3339 time (default: now)")
	f.StringVar(&a.id, "id", "", "message or delivery id (standard and hmac with --id-header: random when omitted)")
	f.StringVar(&a.hmac.Header, "header", "", "hmac: header that carries the signature")
	f.StringVar(&a.hmac.Algorithm, "algorithm", "", "hmac: sha256 or sha512")
	f.StringVar(&a.hmac.Encoding, "encoding", "", "hmac: hex or base64")
	f.StringVar(&a.hmac.Prefix, "prefix", "", "hmac: text before the encoded signature, such as sha256=")
	f.StringVar(&a.hmac.TimestampHeader, "timestamp-header", "", "hmac: header that carries the timestamp")
	f.StringVar(&a.hmac.IDHeader, "id-header", "", "hmac: header that carries the message id")
	f.StringVar(&a.hmac.Template, "template", "", "hmac: signed string, such as {timestamp}.{body}")
	sign.Args = cobra.NoArgs
	sign.RunE = func(c *cobra.Command, _ []string) error {
		return runWebhookSign(c.InOrStdin(), c.OutOrStdout(), os.Getenv, time.Now(), a)
	}
	cmd.AddCommand(sign)
}

func runWebhookSign(stdin io.Reader, stdout io.Writer, getenv func(string) string, now time.Time, a webhookSignArgs) error {
	if a.provider == "" {
		return fmt.Errorf("--provider is missing: use one of %s", strings.Join(webhook.Providers(), ", "))
	}
	if a.secretEnv == "" {
		return fmt.Errorf("--secret-env is missing: name the environment variable that holds the secret, for example --secret-env PAYSTACK_SECRET")
	}
	secret := getenv(a.secretEnv)
	if secret == "" {
		return fmt.Errorf("--secret-env %s: the environment variable is empty or not set; export the signing secret in it", a.secretEnv)
	}

	at := now
	if a.timestamp != "" {
		t, err := parseSigningTime(a.timestamp)
		if err != nil {
			return err
		}
		at = t
	}

	id := a.id
	if id == "" && (a.provider == webhook.ProviderStandard || a.provider == webhook.ProviderHMAC && a.hmac.IDHeader != "") {
		id = randomMessageID()
	}

	body, err := io.ReadAll(io.LimitReader(stdin, maxSignBody+1))
	if err != nil {
		return fmt.Errorf("reading the body from standard input: %w", err)
	}
	if len(body) > maxSignBody {
		return fmt.Errorf("the body on standard input exceeds %d bytes, the largest max_body a route accepts", maxSignBody)
	}

	h, err := webhook.Sign(webhook.Config{
		Provider: a.provider,
		Secrets:  []string{secret},
		HMAC:     a.hmac,
	}, at, id, body)
	if err != nil {
		return fmt.Errorf("signing the body: %w", err)
	}
	_, err = io.WriteString(stdout, formatHeaders(h))
	return err
}

// parseSigningTime reads Unix seconds or an RFC 3339 time.
func parseSigningTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--timestamp '%s': give Unix seconds such as 1767225600 or an RFC 3339 time such as 2026-01-01T00:00:00Z", s)
}

// randomMessageID returns an id in the style of Standard Webhooks' msg_
// ids, for a signature that needs one.
func randomMessageID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}

// formatHeaders writes h as "Name: value" lines sorted by name, one line
// per value.
func formatHeaders(h http.Header) string {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		for _, v := range h[name] {
			b.WriteString(name + ": " + v + "\n")
		}
	}
	return b.String()
}
