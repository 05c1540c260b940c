package commands

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/awra/awragate/modules/commands/keyscli"
	"github.com/awra/awragate/policy/signedurl"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "sign-url",
		Usage: "--key-id <id> --secret-env <NAME> [--method GET] [--expires-in 15m | --expires-at <time>] <url>",
		Short: "Prints a signed link for an awra_signed_url route",
		Long: `
Signs an absolute http or https URL the way awra_signed_url verifies it and
prints the signed URL, and nothing else, on standard output.

The secret is read from the environment variable named by --secret-env,
never from a flag, so it stays out of shell history and process lists.
--expires-in takes a Go duration or whole days (default 15m); --expires-at
takes an RFC 3339 time or Unix seconds. A lifetime beyond 7 days is
rejected, because no route accepts one.
`,
		CobraFunc: configureSignURLCommand,
	})
}

type signURLArgs struct {
	keyID     string
	secretEnv string
	method    string
	expiresIn string
	expiresAt string
}

func configureSignURLCommand(cmd *cobra.Command) {
	var a signURLArgs
	f := cmd.Flags()
	f.StringVar(&a.keyID, "key-id", "", "signing key id, as configured in awra_signed_url")
	f.StringVar(&a.secretEnv, "secret-env", "", "name of the environment variable that holds the secret")
	f.StringVar(&a.method, "method", "GET", "HTTP method the link is valid for")
	f.StringVar(&a.expiresIn, "expires-in", "15m", "lifetime: a Go duration (15m) or whole days (2d)")
	f.StringVar(&a.expiresAt, "expires-at", "", "expiry as an RFC 3339 time or Unix seconds; replaces --expires-in")
	cmd.Args = cobra.ExactArgs(1)
	cmd.SilenceUsage = true
	cmd.RunE = func(c *cobra.Command, args []string) error {
		expiresInSet := c.Flags().Changed("expires-in")
		return runSignURL(c.OutOrStdout(), os.Getenv, time.Now(), a, expiresInSet, args[0])
	}
}

func runSignURL(stdout io.Writer, getenv func(string) string, now time.Time, a signURLArgs, expiresInSet bool, rawURL string) error {
	if a.keyID == "" {
		return fmt.Errorf("--key-id is missing: name the signing key configured in awra_signed_url")
	}
	if a.secretEnv == "" {
		return fmt.Errorf("--secret-env is missing: name the environment variable that contains the secret, for example --secret-env AWRA_URL_KEY")
	}
	secret := getenv(a.secretEnv)
	if secret == "" {
		return fmt.Errorf("--secret-env %s: the environment variable is empty or not set; export the signing secret in it", a.secretEnv)
	}

	method := strings.ToUpper(a.method)
	if method == "" || strings.ContainsAny(method, " \t\r\n") {
		return fmt.Errorf("--method '%s': give an HTTP method such as GET", a.method)
	}

	var expires time.Time
	switch {
	case a.expiresAt != "" && expiresInSet:
		return fmt.Errorf("--expires-at and --expires-in both set: give one of them")
	case a.expiresAt != "":
		t, err := parseExpiresAt(a.expiresAt)
		if err != nil {
			return err
		}
		expires = t
	default:
		d, err := keyscli.ParseLifetime(a.expiresIn)
		if err != nil {
			return fmt.Errorf("--expires-in: %w", err)
		}
		expires = now.Add(d)
	}

	flag := "--expires-in"
	if a.expiresAt != "" {
		flag = "--expires-at"
	}
	lifetime := expires.Sub(now)
	if lifetime <= 0 {
		return fmt.Errorf("%s: the link would expire at %s, which is not in the future; give a later time", flag, expires.UTC().Format(time.RFC3339))
	}
	if lifetime > signedurl.MaxTTLLimit {
		return fmt.Errorf("%s: the link lifetime %s exceeds the limit of 7 days; give an earlier expiry", flag, lifetime.Round(time.Second))
	}

	signed, err := signedurl.SignURL(method, rawURL, a.keyID, []byte(secret), expires)
	if err != nil {
		return fmt.Errorf("signing '%s': %w", rawURL, err)
	}
	_, err = fmt.Fprintln(stdout, signed)
	return err
}

// parseExpiresAt reads an RFC 3339 time or Unix seconds.
func parseExpiresAt(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("--expires-at '%s': give an RFC 3339 time such as 2027-01-31T12:00:00Z or Unix seconds", s)
}
