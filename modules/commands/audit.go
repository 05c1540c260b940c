package commands

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/awra/awragate/modules/commands/auditcli"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "audit",
		Usage: "tail|export|verify [--redis <url>] [--stream <name>] ...",
		Short: "Reads, exports and verifies the audit stream",
		Long: `
Reads the Redis stream that every gateway writes its audit events to (the
audit option of the awra app): one entry per allow or deny decision, key
change and pipeline note, linked per gateway instance into an HMAC-SHA256
hash chain.

Every subcommand takes --redis (default: the URL in ` + auditcli.RedisURLEnv + `, else
` + auditcli.DefaultRedisURL + `) and --stream (default ` + auditcli.DefaultStream + `). verify reads the chain key from
the ` + auditcli.ChainKeyEnv + ` environment variable, never from a flag,
so it stays out of shell history and process lists.
`,
		CobraFunc: configureAuditCommand,
	})
}

// auditSubcommands lists the subcommands of audit in the order of the help
// text.
var auditSubcommands = []string{"tail", "export", "verify"}

// configureAuditCommand adds the subcommands and the shared flags to the
// audit command. Each call binds fresh flag variables, so every test can
// build a command of its own.
func configureAuditCommand(cmd *cobra.Command) {
	var src auditcli.Source
	// The default is resolved when the command runs, so that help never
	// prints a URL from the environment, which may hold a password.
	cmd.PersistentFlags().StringVar(&src.RedisURL, "redis", "", "URL of the Redis server that holds the stream (default: $"+auditcli.RedisURLEnv+", else "+auditcli.DefaultRedisURL+")")
	cmd.PersistentFlags().StringVar(&src.Stream, "stream", auditcli.DefaultStream, "key of the audit stream")
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("missing subcommand: use one of %s; see 'awragate audit --help'", strings.Join(auditSubcommands, ", "))
		}
		return fmt.Errorf("unknown subcommand '%s': use one of %s", args[0], strings.Join(auditSubcommands, ", "))
	}
	cmd.SilenceUsage = true

	runner := func(c *cobra.Command) *auditcli.Runner {
		return &auditcli.Runner{Stdout: c.OutOrStdout(), Stderr: c.ErrOrStderr()}
	}
	cmd.AddCommand(
		newAuditTailCommand(&src, runner),
		newAuditExportCommand(&src, runner),
		newAuditVerifyCommand(&src, runner),
	)
}

type auditRunnerFunc func(*cobra.Command) *auditcli.Runner

// discardRedisLogs silences go-redis's process-wide logger, which prints
// every failed dial to standard error: the audit commands report Redis
// errors themselves, once. Only the commands call it, never the gateway.
func discardRedisLogs() {
	redis.SetLogger(discardLogger{})
}

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// interruptContext returns a context that ends on SIGINT or SIGTERM, so
// that tail --follow and long reads stop cleanly.
func interruptContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func newAuditTailCommand(src *auditcli.Source, runner auditRunnerFunc) *cobra.Command {
	var a auditcli.TailArgs
	var count string
	c := newSubcommand("tail [--count N] [--follow]", "Prints the newest audit entries", `
Prints the newest --count entries of the stream, oldest first, one line
each:

  TIME INSTANCE:SEQ MODULE DECISION REASON STATUS key=KEY ip=CLIENT_IP req=REQUEST_ID METHOD HOST PATH LATENCY [detail=...]

An empty value prints as '-'. Values with spaces, quotes or control
characters print Go-quoted. --follow then prints new entries as they
arrive until interrupted. tail only reads: it creates no consumer group.
`)
	c.Args = noArgs
	c.Flags().StringVar(&count, "count", strconv.Itoa(auditcli.DefaultTailCount), "how many of the newest entries to print first, 0 to "+strconv.Itoa(auditcli.MaxTailCount))
	c.Flags().BoolVar(&a.Follow, "follow", false, "keep printing new entries until interrupted")
	c.RunE = func(c *cobra.Command, _ []string) error {
		n, err := auditcli.ParseCount(count)
		if err != nil {
			return err
		}
		a.Source, a.Count = *src, n
		discardRedisLogs()
		ctx, stop := interruptContext()
		defer stop()
		return runner(c).Tail(ctx, a)
	}
	return c
}

func newAuditExportCommand(src *auditcli.Source, runner auditRunnerFunc) *cobra.Command {
	var a auditcli.ExportArgs
	c := newSubcommand("export --out <file.jsonl> [--since T] [--until T] [--key <id>] [--decision allow|deny] [--module <name>]",
		"Writes audit entries to a JSON Lines file", `
Writes the entries whose event time (ts) is at or after --since and before
--until to --out as JSON Lines, one object per entry: "stream_id" and then
every field as a string. T is an RFC 3339 time (2026-01-02T15:04:05Z) or a
duration back from now (24h, 90m, 30d). --key, --decision and --module keep
only matching entries. The file is written beside its path and renamed over
it, with mode 0600; the count goes to standard error.

Only an export without --key, --decision and --module passes
'awragate audit verify --from-file': the filters cut the chains. Events
are chained in the order the gateway's writer received them, which can
differ slightly from their ts, so the edges of a time window may cut a
chain too; export a wider window for evidence.
`)
	c.Args = noArgs
	f := c.Flags()
	f.StringVar(&a.Out, "out", "", "JSON Lines file to write (required)")
	f.StringVar(&a.Since, "since", "", "earliest event time: RFC 3339 or a duration back from now such as 24h or 30d (default: the oldest entry)")
	f.StringVar(&a.Until, "until", "", "event time to stop before: RFC 3339 or a duration back from now (default: no limit)")
	f.StringVar(&a.KeyID, "key", "", "keep only entries of this key id")
	f.StringVar(&a.Decision, "decision", "", "keep only allow or deny entries")
	f.StringVar(&a.Module, "module", "", "keep only entries of this module: api_key, signed_url, webhook, alert, admin or audit")
	c.RunE = func(c *cobra.Command, _ []string) error {
		a.Source = *src
		discardRedisLogs()
		ctx, stop := interruptContext()
		defer stop()
		return runner(c).Export(ctx, a)
	}
	return c
}

func newAuditVerifyCommand(src *auditcli.Source, runner auditRunnerFunc) *cobra.Command {
	var a auditcli.VerifyArgs
	c := newSubcommand("verify [--from-file <file.jsonl>]", "Checks the hash chains of the audit stream", `
Checks every gateway instance's chain in the stream, or in an export given
with --from-file: each entry's HMAC, each link to the entry before, and
that seqs appear once, in order and without gaps. A gap passes only where
the gateway declared it with an events_lost event. Reading from Redis,
verify also compares each chain with the watermark the gateways keep
beside the stream, so entries removed from the end are found too.

Declared gaps pass, because the gateway signed them; --fail-on-loss makes
a chain that declares lost or dropped events fail too, for audits that
must not accept any gap.

The chain key comes from the `+auditcli.ChainKeyEnv+` environment variable.
verify prints one line per instance and exits with an error naming the
first bad entry: stream id, instance, seq and what is wrong.
`)
	c.Args = noArgs
	c.Flags().StringVar(&a.FromFile, "from-file", "", "JSON Lines export to check instead of the stream")
	c.Flags().BoolVar(&a.FailOnLoss, "fail-on-loss", false, "also fail when a chain declares lost or dropped events")
	c.RunE = func(c *cobra.Command, _ []string) error {
		a.Source = *src
		discardRedisLogs()
		ctx, stop := interruptContext()
		defer stop()
		return runner(c).Verify(ctx, a)
	}
	return c
}
