// Package commands registers awragate's own subcommands with Caddy's
// command line. The commands are thin: they map flags onto plain-Go
// runners such as keyscli.
package commands

import (
	"fmt"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/awra/awragate/modules/commands/keyscli"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "keys",
		Usage: "create|list|show|rotate|revoke|suspend|resume [--file <keys file> | --redis <url>] ...",
		Short: "Creates, lists, rotates and revokes API keys in a keys file or the fleet registry",
		Long: `
Manages the API keys in the JSON keys file that the gateway watches
(the keys_file option of the awra app), or with --redis in the fleet key
registry in Redis (keys_store redis). The gateway reloads the file when
it changes, so edits take effect without a restart. Gateways on the
fleet registry apply an edit within a second through pub/sub, and within
keys_cache_ttl (default 5s) when a pub/sub message is lost.

Every subcommand takes --file or --redis; without either, the
AWRA_KEYS_FILE environment variable names the file. Edits of a file lock
it (beside it, <file>.lock), validate the whole result and replace the
file atomically with mode 0600. Edits in Redis validate the key the same
way and store it only if no other edit changed it in the meantime.

A quarantined key (alerts with quarantine_after) is lifted with
'awragate keys resume ID --redis URL', which also resumes the key if it
is suspended. For a key in a keys file, give --file and --redis
together: resume edits the file and clears the quarantine record in
Redis. A password in the --redis URL is visible to other local users in
the process list; prefer a Redis ACL user without one on trusted hosts.

create and rotate print the new token, and nothing else, on standard
output. The token is shown only this once: the file stores only its
SHA-256 hash. Notes and warnings go to standard error.
`,
		CobraFunc: configureKeysCommand,
	})
}

// subcommands lists the subcommands of keys in the order of the help text.
var subcommands = []string{"create", "list", "show", "rotate", "revoke", "suspend", "resume"}

// configureKeysCommand adds the subcommands and the shared --file flag to
// the keys command. Each call binds fresh flag variables, so every test
// can build a command of its own.
func configureKeysCommand(cmd *cobra.Command) {
	var file, redisURL string
	cmd.PersistentFlags().StringVar(&file, "file", "", "keys file to read or edit (default: $"+keyscli.FileEnv+")")
	cmd.PersistentFlags().StringVar(&redisURL, "redis", "", "Redis URL of the fleet key registry, such as redis://127.0.0.1:6379/0; with resume, also lifts the key's quarantine")
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("missing subcommand: use one of %s; see 'awragate keys --help'", strings.Join(subcommands, ", "))
		}
		return fmt.Errorf("unknown subcommand '%s': use one of %s", args[0], strings.Join(subcommands, ", "))
	}
	cmd.SilenceUsage = true

	runner := func(c *cobra.Command) *keyscli.Runner {
		return &keyscli.Runner{Stdout: c.OutOrStdout(), Stderr: c.ErrOrStderr(), RedisURL: redisURL}
	}
	cmd.AddCommand(
		newCreateCommand(&file, runner),
		newListCommand(&file, runner),
		newShowCommand(&file, runner),
		newRotateCommand(&file, runner),
		newStatusCommand("revoke", "Revokes a key for good", (*keyscli.Runner).Revoke, &file, runner),
		newStatusCommand("suspend", "Suspends a key until it is resumed", (*keyscli.Runner).Suspend, &file, runner),
		newStatusCommand("resume", "Makes a suspended key active again and, with --redis, lifts its quarantine", (*keyscli.Runner).Resume, &file, runner),
	)
}

type runnerFunc func(*cobra.Command) *keyscli.Runner

// newSubcommand returns a subcommand with the settings they all share:
// no usage dump after an error, and flag errors that point to --help.
func newSubcommand(use, short, long string) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Long: strings.TrimSpace(long), SilenceUsage: true}
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w; see '%s --help'", err, c.CommandPath())
	})
	return c
}

func newCreateCommand(file *string, runner runnerFunc) *cobra.Command {
	var a keyscli.CreateArgs
	c := newSubcommand("create --id <id> --scope <resource:action>... --cidr <network>... [flags]",
		"Creates a key and prints its token", `
Creates an active key and prints its token on standard output, once.

--expires-in takes whole days (90d) or a Go duration (36h, 1h30m); every
key expires, at most 3650 days after creation. --rate takes N/s, N/m or
N/h; without --burst the burst is N rounded up, one period's requests. A key
open to every address needs --cidr 0.0.0.0/0 --cidr ::/0, and the
security review flags it unless --ip-exception gives the reason.
`)
	c.Args = noArgs
	f := c.Flags()
	f.StringVar(&a.ID, "id", "", "key id: 1 to 64 characters of a-z, 0-9 and '-'")
	f.StringArrayVar(&a.Scopes, "scope", nil, "scope granted, resource:action; repeat for more")
	f.StringArrayVar(&a.CIDRs, "cidr", nil, "network the key may be used from, IPv4 or IPv6 CIDR; repeat for more")
	f.StringVar(&a.ExpiresIn, "expires-in", keyscli.DefaultExpiresIn, "lifetime: whole days (90d) or a Go duration (36h)")
	f.StringVar(&a.Rate, "rate", "", "rate limit: N/s, N/m or N/h (default: no per-key limit)")
	f.StringVar(&a.Burst, "burst", "", "requests allowed at once under --rate (default: N of --rate)")
	f.StringVar(&a.Owner, "owner", "", "team or person responsible for the key")
	f.StringVar(&a.Description, "description", "", "what the key is for")
	f.StringVar(&a.IPException, "ip-exception", "", "reason why the key is open to every address")
	c.RunE = func(c *cobra.Command, _ []string) error {
		a.File = *file
		return runner(c).Create(a)
	}
	return c
}

func newListCommand(file *string, runner runnerFunc) *cobra.Command {
	var asJSON bool
	c := newSubcommand("list [--json]", "Lists the keys without their hashes", `
Lists the keys sorted by id: status (expired for an active key past its
expiry), owner, scopes, networks, expiry and last rotation. --json
prints the records as a JSON array, without the token hashes.
`)
	c.Args = noArgs
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	c.RunE = func(c *cobra.Command, _ []string) error {
		return runner(c).List(*file, asJSON)
	}
	return c
}

func newShowCommand(file *string, runner runnerFunc) *cobra.Command {
	var asJSON bool
	c := newSubcommand("show <id> [--json]", "Shows one key without its hashes", `
Shows the details of one key, including when each of its tokens was
created and until when an old token stays valid after a rotation.
`)
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object instead of text")
	c.RunE = func(c *cobra.Command, args []string) error {
		id, err := keyscli.KeyIDArg("show", args)
		if err != nil {
			return err
		}
		return runner(c).Show(*file, id, asJSON)
	}
	return c
}

func newRotateCommand(file *string, runner runnerFunc) *cobra.Command {
	var grace string
	c := newSubcommand("rotate <id> [--grace 24h]", "Gives a key a new token and prints it", `
Gives the key a new token and prints it on standard output, once. The
old token keeps working for --grace (whole days such as 1d, or a Go
duration such as 24h; at most 30d); --grace 0 ends it at once. A
revoked or expired key cannot be rotated.
`)
	c.Flags().StringVar(&grace, "grace", keyscli.DefaultGrace, "how long the old token keeps working: 24h, 1d, or 0 to end it now")
	c.RunE = func(c *cobra.Command, args []string) error {
		id, err := keyscli.KeyIDArg("rotate", args)
		if err != nil {
			return err
		}
		return runner(c).Rotate(*file, id, grace)
	}
	return c
}

// newStatusCommand returns revoke, suspend or resume: a command that takes
// one key id and changes the key's status with run.
func newStatusCommand(name, short string, run func(*keyscli.Runner, string, string) error, file *string, runner runnerFunc) *cobra.Command {
	c := newSubcommand(name+" <id>", short, short+`.

A revoked key stays revoked: suspend and resume reject it, and its id
cannot be used again. The gateway applies the change when it reloads
the keys file, or at once for keys in the fleet registry (--redis).
resume with --redis also lifts the key's quarantine on every gateway.
`)
	c.RunE = func(c *cobra.Command, args []string) error {
		id, err := keyscli.KeyIDArg(name, args)
		if err != nil {
			return err
		}
		return run(runner(c), *file, id)
	}
	return c
}

// noArgs rejects positional arguments with a hint, because a forgotten
// flag name ("create myid") is the usual cause.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument '%s': '%s' takes flags only; see '%s --help'", args[0], c.Name(), c.CommandPath())
	}
	return nil
}
