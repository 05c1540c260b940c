package commands

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/awra/awragate/policy/audit"
	"github.com/awra/awragate/policy/review"
)

// recordTimeout bounds the wait for the key_narrowed events to reach
// Redis.
const recordTimeout = 30 * time.Second

// applyLeastPrivilege prints the planned narrowing and, once confirmed on
// standard input or by --yes, changes the keys file and records each
// change in the audit stream.
func (r *reviewRunner) applyLeastPrivilege(ctx context.Context, a reviewArgs, rep *review.Report, d *review.Deployment, env review.Env) error {
	if rep.Audit.Result == nil {
		return errors.New("--apply-least-privilege needs the period's traffic, but the audit stream was not read; see the audit gate in the report")
	}
	plan := rep.LeastPrivilege.Plan
	if len(plan) == 0 {
		fmt.Fprintf(r.stdout, "least privilege: no key in '%s' needs narrowing\n", a.keysFile)
		return nil
	}

	auditCfg, err := r.narrowingAuditConfig(a, d, env)
	if err != nil {
		return err
	}

	fmt.Fprint(r.stdout, narrowingDiff(a.keysFile, plan))
	if !a.yes {
		fmt.Fprint(r.stdout, "Apply these changes? [y/N] ")
		if !confirmed(r.stdin) {
			fmt.Fprintln(r.stdout, "\nleast privilege: not applied; the keys file is unchanged")
			return nil
		}
	}

	now := r.now()
	if err := review.ApplyNarrowing(a.keysFile, plan, now); err != nil {
		return fmt.Errorf("narrowing '%s': %w", a.keysFile, err)
	}
	fmt.Fprintf(r.stdout, "least privilege: narrowed %d keys in '%s'\n", len(plan), a.keysFile)

	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	if err := review.RecordNarrowing(ctx, auditCfg, a.keysFile, plan, now); err != nil {
		return fmt.Errorf("the keys file was narrowed, but recording the change in the audit stream failed: %w", err)
	}
	fmt.Fprintf(r.stdout, "least privilege: recorded %d %s events in '%s'\n", len(plan), review.ReasonKeyNarrowed, auditCfg.Stream)
	return nil
}

// narrowingAuditConfig returns the pipeline settings for the
// key_narrowed events: the review's Redis, stream and chain key.
func (r *reviewRunner) narrowingAuditConfig(a reviewArgs, d *review.Deployment, env review.Env) (audit.Config, error) {
	cfg := audit.Config{RedisURL: a.redis, Stream: a.stream}
	if d.App != nil {
		if cfg.RedisURL == "" {
			cfg.RedisURL = d.App.Redis
		}
		if cfg.Stream == "" {
			cfg.Stream = d.App.AuditStream
		}
	}
	if cfg.Stream == "" {
		cfg.Stream = audit.DefaultStream
	}
	if k := r.getenv(chainKeyEnv); k != "" {
		cfg.ChainKey = []byte(k)
	} else {
		cfg.ChainKey = d.App.ResolveChainKey(env)
	}
	switch {
	case cfg.RedisURL == "":
		return cfg, errors.New("--apply-least-privilege records every change in the audit stream, but no Redis server is known: give --redis")
	case len(cfg.ChainKey) == 0:
		return cfg, errors.New("--apply-least-privilege records every change in the audit stream, but no chain key is known: export " + chainKeyEnv)
	}
	return cfg, nil
}

// narrowingDiff renders the plan as lines removed (-) and added (+) per
// key.
func narrowingDiff(keysFile string, plan []review.KeyNarrowing) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Least-privilege changes to '%s':\n", keysFile)
	for _, n := range plan {
		fmt.Fprintf(&b, "key '%s':\n", n.KeyID)
		for _, s := range n.RemovedScopes() {
			fmt.Fprintf(&b, "  - scope %s\n", s)
		}
		for _, s := range n.AddedScopes() {
			fmt.Fprintf(&b, "  + scope %s\n", s)
		}
		for _, c := range n.RemovedCIDRs() {
			fmt.Fprintf(&b, "  - allowed_cidr %s\n", c)
		}
		fmt.Fprintf(&b, "  scopes after: %s\n  allowed_cidrs after: %s\n", strings.Join(n.ScopesAfter, ", "), strings.Join(n.CIDRsAfter, ", "))
	}
	return b.String()
}

// confirmed reads one line and reports whether it is "y" or "yes".
func confirmed(stdin interface{ Read([]byte) (int, error) }) bool {
	if stdin == nil {
		return false
	}
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}
