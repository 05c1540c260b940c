package commands

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/review"
)

// reviewArgs are the flags of 'awragate review'.
type reviewArgs struct {
	config, adapter, out, since, asOf  string
	redis, stream, keysFile            string
	signingKeyEnv                      string
	maxKeyLifetime, maxURLTTL          string
	urlKeyRotation                     string
	signingKeyCreated, sourceProviders []string
	applyLeastPrivilege, yes           bool
}

// chainKeyEnv names the environment variable of the audit chain key, as
// for 'awragate audit verify'.
const chainKeyEnv = "AWRA_AUDIT_CHAIN_KEY"

// reviewCollectTimeout bounds reading the audit stream.
const reviewCollectTimeout = 10 * time.Minute

// reviewRunner runs one review with its I/O and clock injected.
type reviewRunner struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	getenv         func(string) string
	now            func() time.Time
}

// reviewSetup holds the settings run derives from the flags before it
// reads anything that the review judges.
type reviewSetup struct {
	since   time.Duration
	asOf    time.Time
	policy  review.Policy
	signer  ed25519.PrivateKey
	keyFlag bool // --max-key-lifetime was given
}

// run performs the review and returns the exit status.
func (r *reviewRunner) run(ctx context.Context, a reviewArgs) (int, error) {
	setup, err := r.parseArgs(a)
	if err != nil {
		return reviewExitUsage, err
	}
	env := review.Env{Getenv: r.getenv, ReadFile: review.ReadFileLimited}

	// Read the configuration and the key registry.
	cfg, err := loadReviewConfig(a.config, a.adapter)
	if err != nil {
		return reviewExitUsage, err
	}
	for _, w := range cfg.warnings {
		fmt.Fprintf(r.stderr, "warning: %s\n", w)
	}
	d, err := review.ParseDeployment(cfg.json, env)
	if err != nil {
		return reviewExitUsage, fmt.Errorf("reading configuration '%s': %w", a.config, err)
	}
	if d.App != nil && d.App.MaxKeyLifetime > 0 && !setup.keyFlag {
		setup.policy.MaxKeyLifetime = d.App.MaxKeyLifetime
		setup.policy.MaxKeyLifetimeSource = "config apps.awra." + review.MaxKeyLifetimeField
	}

	keysPath := a.keysFile
	if keysPath == "" && d.App != nil {
		keysPath = d.App.KeysFile
	}
	keys := readKeys(keysPath)

	// Read the audit stream into the evidence directory while judging
	// the period's traffic.
	evidenceDir, err := review.PrepareDir(a.out)
	if err != nil {
		return reviewExitUsage, err
	}

	in := review.Input{
		Tool: "awragate review", Version: toolVersion(),
		AsOf: setup.asOf, Since: setup.since,
		Config:     review.ConfigSource{Path: a.config, Adapter: cfg.adapter, SHA256: cfg.sha256},
		Deployment: d, Keys: keys, Policy: setup.policy, Sealed: setup.signer != nil,
		Usage: review.NewUsage(d),
	}
	in.Audit = r.collectAudit(ctx, a, d, env, setup, evidenceDir, in.Usage)
	if in.Audit.Result == nil {
		in.Usage = nil
	}
	in.GeneratedAt = r.now()

	// Judge, write the package and seal it.
	rep := review.Build(in)
	if err := review.WriteEvidence(a.out, rep, in); err != nil {
		return reviewExitFail, fmt.Errorf("writing the evidence: %w", err)
	}
	if setup.signer != nil {
		if err := review.Seal(a.out, setup.signer, in.Tool+" "+in.Version, in.GeneratedAt); err != nil {
			return reviewExitFail, fmt.Errorf("sealing the evidence: %w", err)
		}
	}
	r.printSummary(rep, a.out)

	if a.applyLeastPrivilege {
		if err := r.applyLeastPrivilege(ctx, a, rep, d, env); err != nil {
			return reviewExitFail, err
		}
	}
	if failed := rep.Failed(); len(failed) > 0 {
		return reviewExitFail, fmt.Errorf("the review failed %d of %d gates: %s; see %s", len(failed), len(rep.Gates), gateList(failed), a.out+"/"+review.ReportMDFile)
	}
	return reviewExitPass, nil
}

// parseArgs checks the flags that need no file or server.
func (r *reviewRunner) parseArgs(a reviewArgs) (reviewSetup, error) {
	var s reviewSetup
	switch {
	case a.config == "":
		return s, usagef("--config is missing: give the configuration file to review")
	case a.out == "":
		return s, usagef("--out is missing: give a new directory for the report and the evidence")
	}

	var err error
	if s.since, err = review.ParseDuration(a.since); err != nil {
		return s, usagef("--since: %w", err)
	}
	s.asOf = r.now().UTC()
	if a.asOf != "" {
		if s.asOf, err = time.Parse(time.RFC3339, a.asOf); err != nil {
			return s, usagef("--as-of '%s': give an RFC 3339 time such as 2026-03-01T00:00:00Z", a.asOf)
		}
	}

	s.policy = review.DefaultPolicy()
	if a.maxKeyLifetime != "" {
		if s.policy.MaxKeyLifetime, err = review.ParseDuration(a.maxKeyLifetime); err != nil {
			return s, usagef("--max-key-lifetime: %w", err)
		}
		s.policy.MaxKeyLifetimeSource = "flag --max-key-lifetime"
		s.keyFlag = true
	}
	if s.policy.MaxURLTTL, err = review.ParseDuration(a.maxURLTTL); err != nil {
		return s, usagef("--max-url-ttl: %w", err)
	}
	if s.policy.URLKeyRotation, err = review.ParseDuration(a.urlKeyRotation); err != nil {
		return s, usagef("--url-key-rotation: %w", err)
	}
	if len(a.sourceProviders) > 0 {
		s.policy.SourceCIDRProviders = append([]string(nil), a.sourceProviders...)
	}
	s.policy.SigningKeyCreated = map[string]time.Time{}
	for _, item := range a.signingKeyCreated {
		id, date, ok := splitAssignment(item)
		t, err := time.Parse("2006-01-02", date)
		if !ok || err != nil {
			return s, usagef("--signing-key-created '%s': write ID=YYYY-MM-DD, for example k2026=2026-01-15", item)
		}
		s.policy.SigningKeyCreated[id] = t
	}

	if a.signingKeyEnv != "" {
		pemText := r.getenv(a.signingKeyEnv)
		if pemText == "" {
			return s, usagef("--signing-key-env %s: the environment variable is empty or not set; export the content of the .key file from 'awragate review keygen'", a.signingKeyEnv)
		}
		if s.signer, err = review.ParsePrivateKey([]byte(pemText)); err != nil {
			return s, usagef("--signing-key-env %s: %w", a.signingKeyEnv, err)
		}
	}
	if a.yes && !a.applyLeastPrivilege {
		return s, usagef("--yes answers the question of --apply-least-privilege; give both or neither")
	}
	if a.applyLeastPrivilege && a.keysFile == "" {
		return s, usagef("--apply-least-privilege needs --keys-file naming the keys file to narrow")
	}
	return s, nil
}

// readKeys reads and parses the keys file, keeping any error for the
// report.
func readKeys(path string) review.KeysInput {
	in := review.KeysInput{Path: path}
	if path == "" {
		in.Err = errors.New("no keys file: the awra app has no keys_file and --keys-file was not given")
		return in
	}
	data, err := os.ReadFile(path)
	if err != nil {
		in.Err = err
		return in
	}
	sum := sha256.Sum256(data)
	in.SHA256 = hex.EncodeToString(sum[:])
	in.File, in.Err = policy.ParseKeysFile(data)
	return in
}

// collectAudit reads the audit stream into the evidence directory.
func (r *reviewRunner) collectAudit(ctx context.Context, a reviewArgs, d *review.Deployment, env review.Env, s reviewSetup, evidenceDir string, usage *review.Usage) review.AuditInput {
	in := review.AuditInput{Stream: a.stream}
	redisURL := a.redis
	var chainKey []byte
	if d.App != nil {
		in.Configured = d.App.Audit
		if redisURL == "" {
			redisURL = d.App.Redis
		}
		if in.Stream == "" {
			in.Stream = d.App.AuditStream
		}
	}
	in.Redis = review.RedactURL(redisURL)
	if in.Stream == "" {
		in.Stream = "awra:audit"
	}
	if k := r.getenv(chainKeyEnv); k != "" {
		chainKey, in.ChainKeySource = []byte(k), "environment "+chainKeyEnv
	} else if k := d.App.ResolveChainKey(env); k != nil {
		chainKey, in.ChainKeySource = k, "the configuration's chain_key"
	}

	switch {
	case !in.Configured || chainKey == nil:
		return in
	case redisURL == "":
		in.Err = errors.New("no Redis server: the awra app has no redis and --redis was not given")
		return in
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		in.Err = errors.New("the Redis URL does not parse") // the URL may hold a password
		return in
	}
	client := redis.NewClient(opts)
	defer client.Close()

	ctx, cancel := context.WithTimeout(ctx, reviewCollectTimeout)
	defer cancel()
	in.Result, in.Err = review.CollectAudit(ctx, client, review.CollectOptions{
		Stream: in.Stream, Start: s.asOf.Add(-s.since), End: s.asOf, ChainKey: chainKey,
		Dir: evidenceDir, Observe: usage.Observe,
	})
	return in
}

func (r *reviewRunner) printSummary(rep *review.Report, dir string) {
	fmt.Fprintf(r.stdout, "review: %s\n", rep.Result)
	for _, g := range rep.Gates {
		var codes []string
		for _, f := range g.Findings {
			if f.Severity == review.SeverityFail {
				codes = append(codes, f.Code)
			}
		}
		line := fmt.Sprintf("%s %s", g.Status, g.Title)
		if len(codes) > 0 {
			line += ": " + strings.Join(uniqueStrings(codes), ", ")
		}
		fmt.Fprintln(r.stdout, line)
	}
	fmt.Fprintf(r.stdout, "report: %s/%s\n", dir, review.ReportMDFile)
}

func gateList(ids []review.GateID) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = string(id)
	}
	return strings.Join(parts, ", ")
}

func uniqueStrings(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}
