package commands

import (
	"fmt"
	"os"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "review",
		Usage: "--config <file> --out <dir> [--signing-key-env NAME] [--since 30d] [flags] | keygen --out <prefix> | verify <dir> --public-key <file>",
		Short: "Reviews the deployment's security and writes a sealed evidence package",
		Long: `
Runs the integration security review from the configuration, the key
registry and the audit stream, and writes the evidence an auditor asks
for into a new directory: report.md, report.json (schema_version 1) and
evidence/, sealed by MANIFEST.json and its Ed25519 signature.

Five gates are judged, each PASS or FAIL with its findings: key scopes
audited, URL signatures expire, IP limits active, audit package complete
and security logs archived. The exit status is 0 when every gate passes,
1 when a gate fails and 2 on a usage error.

The key registry, the Redis server and the audit stream are found
through the configuration's awra app; --keys-file, --redis and --stream
override them. Placeholders such as {env.NAME} in secrets are resolved
from this environment only to measure the secrets' length. The audit
chain key comes from AWRA_AUDIT_CHAIN_KEY, or else from the chain_key
placeholder of the configuration; it is never a flag.

A signed-URL key's age is the date given with --signing-key-created
ID=YYYY-MM-DD, else a date in its id: k20260115, k2026-01-15, k202601,
k2026-01 or k2026, where a month or a year alone counts from its first day.
A key whose date is unknown fails the gate. The maximum key lifetime is
--max-key-lifetime, else the awra app's max_key_lifetime, else 365d.

--apply-least-privilege narrows the keys file named by --keys-file to the
scopes and networks the period's traffic used, after showing the changes
and asking for confirmation (--yes skips the question). Each narrowed key
is recorded in the audit stream as an admin event with reason
key_narrowed.

'review keygen --out PREFIX' writes a signing key pair to PREFIX.key (mode
0600) and PREFIX.pub. 'review verify DIR --public-key FILE' checks the
signature and every file's hash, and names each file that changed, is
missing or was added.
`,
		CobraFunc: configureReviewCommand,
	})
}

// Exit statuses of the review commands.
const (
	reviewExitPass  = 0
	reviewExitFail  = 1
	reviewExitUsage = 2
)

// exitWith returns the error that makes caddycmd.Main exit with status,
// logging err through Caddy's logger as other commands do.
func exitWith(c *cobra.Command, status int, err error) error {
	return caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) { return status, err })(c, nil)
}

// usageError marks an error as a usage error, exit status 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// configureReviewCommand binds the flags of review and adds keygen and
// verify. Each call binds fresh flag variables, so every test can build a
// command of its own.
func configureReviewCommand(cmd *cobra.Command) {
	var a reviewArgs
	f := cmd.Flags()
	f.StringVar(&a.config, "config", "", "configuration file to review, a Caddyfile or Caddy JSON")
	f.StringVar(&a.adapter, "adapter", "", "config adapter, such as caddyfile (default: caddyfile for files named Caddyfile*, else JSON)")
	f.StringVar(&a.out, "out", "", "new directory for the report and the evidence")
	f.StringVar(&a.since, "since", "30d", "length of the reviewed period before --as-of: whole days (30d) or a duration (36h)")
	f.StringVar(&a.asOf, "as-of", "", "review time as RFC 3339, which ends the period (default: now)")
	f.StringVar(&a.redis, "redis", "", "Redis URL of the audit stream (default: the awra app's redis)")
	f.StringVar(&a.stream, "stream", "", "audit stream key (default: the awra app's audit stream)")
	f.StringVar(&a.keysFile, "keys-file", "", "keys file to review (default: the awra app's keys_file)")
	f.StringVar(&a.signingKeyEnv, "signing-key-env", "", "environment variable holding the PEM private key that seals the evidence")
	f.StringVar(&a.maxKeyLifetime, "max-key-lifetime", "", "maximum key lifetime from creation to expiry (default: the app's max_key_lifetime, else 365d)")
	f.StringVar(&a.maxURLTTL, "max-url-ttl", "24h", "maximum max_ttl of a signed-URL route")
	f.StringVar(&a.urlKeyRotation, "url-key-rotation", "90d", "maximum age of a signed-URL key")
	f.StringArrayVar(&a.signingKeyCreated, "signing-key-created", nil, "creation date of a signed-URL key as ID=YYYY-MM-DD; repeat for more")
	f.StringArrayVar(&a.sourceProviders, "source-cidrs-provider", nil, "webhook provider whose routes must set source_cidrs; repeat for more (default: github, paystack, stripe)")
	f.BoolVar(&a.applyLeastPrivilege, "apply-least-privilege", false, "narrow the keys file named by --keys-file to the observed use")
	f.BoolVar(&a.yes, "yes", false, "apply the least-privilege changes without asking")

	cmd.Args = cobra.NoArgs
	cmd.SilenceUsage = true
	setUsageExit(cmd)
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		r := &reviewRunner{
			stdout: c.OutOrStdout(), stderr: c.ErrOrStderr(), stdin: c.InOrStdin(),
			getenv: os.Getenv, now: time.Now,
		}
		status, err := r.run(c.Context(), a)
		if err == nil && status == reviewExitPass {
			return nil
		}
		return exitWith(c, status, err)
	}
	cmd.AddCommand(newReviewKeygenCommand(), newReviewVerifyCommand())
}

// setUsageExit makes flag and argument errors of c exit with status 2.
func setUsageExit(c *cobra.Command) {
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitWith(c, reviewExitUsage, fmt.Errorf("%w; see '%s --help'", err, c.CommandPath()))
	})
	args := c.Args
	c.Args = func(c *cobra.Command, a []string) error {
		if args == nil {
			return nil
		}
		if err := args(c, a); err != nil {
			return exitWith(c, reviewExitUsage, fmt.Errorf("%w; see '%s --help'", err, c.CommandPath()))
		}
		return nil
	}
}

func newReviewKeygenCommand() *cobra.Command {
	var prefix string
	c := newSubcommand("keygen --out <prefix>", "Writes an Ed25519 key pair for sealing reviews", `
Writes a new Ed25519 key pair: PREFIX.key, the private key in PKCS #8 PEM
with mode 0600, and PREFIX.pub, the public key in PKIX PEM. Existing files
are never overwritten. Give the private key to 'review' through an
environment variable and --signing-key-env, and the public key to
'review verify'.
`)
	c.Flags().StringVar(&prefix, "out", "", "path prefix of the two files")
	c.Args = cobra.NoArgs
	setUsageExit(c)
	c.RunE = func(c *cobra.Command, _ []string) error {
		status, err := runReviewKeygen(c.OutOrStdout(), prefix)
		if err == nil {
			return nil
		}
		return exitWith(c, status, err)
	}
	return c
}

func newReviewVerifyCommand() *cobra.Command {
	var publicKey string
	c := newSubcommand("verify <dir> --public-key <file>", "Checks the seal of a review directory", `
Checks that MANIFEST.json in DIR is signed by the key in --public-key and
that every file in DIR matches its SHA-256 in the manifest. Prints each
file that changed, is missing or is not listed, one per line, and exits
with status 1 when there is any; exits 0 when the package is intact.
`)
	c.Flags().StringVar(&publicKey, "public-key", "", "the .pub file written by 'review keygen'")
	c.Args = cobra.ExactArgs(1)
	setUsageExit(c)
	c.RunE = func(c *cobra.Command, args []string) error {
		status, err := runReviewVerify(c.OutOrStdout(), args[0], publicKey)
		if err == nil && status == reviewExitPass {
			return nil
		}
		return exitWith(c, status, err)
	}
	return c
}

// splitAssignment reads "NAME=VALUE".
func splitAssignment(s string) (string, string, bool) {
	name, value, ok := strings.Cut(s, "=")
	return name, value, ok && name != "" && value != ""
}
