// Package auditcli runs the 'awragate audit' subcommands: tail, export and
// verify of the audit stream that the gateways write. It is plain Go: the
// Caddy command package maps cobra flags onto these functions, and tests
// call them directly.
//
// Output rules: standard output receives the requested lines (tail), the
// verification summary (verify) or nothing (export writes its file).
// Notes, counts and problems go to standard error. The chain key is read
// only from the AWRA_AUDIT_CHAIN_KEY environment variable and never
// printed.
package auditcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/policy/audit"
)

// Defaults of the flags that every subcommand shares.
const (
	// DefaultRedisURL is the default --redis when RedisURLEnv is unset.
	DefaultRedisURL = "redis://127.0.0.1:6379/0"

	// RedisURLEnv is the environment variable that gives the default
	// --redis, as it gives the gateway's redis option in Caddyfile.example.
	RedisURLEnv = "AWRA_REDIS_URL"

	// DefaultStream is the default --stream, the gateways' default too.
	DefaultStream = audit.DefaultStream

	// ChainKeyEnv is the environment variable that holds the chain key for
	// verify. The gateway's chain_key option usually reads the same one.
	ChainKeyEnv = "AWRA_AUDIT_CHAIN_KEY"

	// DefaultTimeout bounds dialing Redis and each Redis command.
	DefaultTimeout = 5 * time.Second
)

// Source names the stream a subcommand reads.
type Source struct {
	// RedisURL is the redis:// or rediss:// URL of the server. Empty means
	// the URL in RedisURLEnv, or DefaultRedisURL when that is unset.
	RedisURL string

	// Stream is the stream key. Empty means DefaultStream.
	Stream string
}

// Runner runs the audit subcommands. The zero value is not usable: set
// Stdout and Stderr. A Runner is safe for concurrent use if its writers
// are.
type Runner struct {
	// Stdout receives tail lines and the verify summary.
	Stdout io.Writer

	// Stderr receives notes, counts and verification problems.
	Stderr io.Writer

	// Getenv reads environment variables. Nil means os.Getenv.
	Getenv func(string) string

	// Now returns the current time, which durations in --since and
	// --until count back from. Nil means time.Now.
	Now func() time.Time

	// Timeout bounds dialing Redis and each Redis command. Zero means
	// DefaultTimeout.
	Timeout time.Duration
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) getenv(name string) string {
	if r.Getenv != nil {
		return r.Getenv(name)
	}
	return os.Getenv(name)
}

func (r *Runner) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultTimeout
}

// stream returns the checked stream name of s.
func (s Source) stream() (string, error) {
	if s.Stream == "" {
		return DefaultStream, nil
	}
	if strings.ContainsFunc(s.Stream, isControl) {
		return "", fmt.Errorf("--stream %q: invalid stream name: it contains control characters; give the stream key of the audit option, for example --stream %s", s.Stream, DefaultStream)
	}
	return s.Stream, nil
}

// connect opens a client for s and checks that the server replies, so that
// an unreachable server is reported once, with the URL and the fix.
func (r *Runner) connect(ctx context.Context, s Source) (*redis.Client, string, error) {
	stream, err := s.stream()
	if err != nil {
		return nil, "", err
	}
	raw, origin := s.RedisURL, "--redis"
	if raw == "" {
		raw, origin = os.Getenv(RedisURLEnv), RedisURLEnv
	}
	if raw == "" {
		raw = DefaultRedisURL
	}
	redacted := redactURL(raw)

	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%s '%s': invalid Redis URL: %w; give a URL such as %s", origin, redacted, err, DefaultRedisURL)
	}
	opts.DialTimeout = r.timeout()
	opts.ReadTimeout = r.timeout()
	opts.WriteTimeout = r.timeout()
	opts.PoolSize = 2

	client := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		_ = client.Close()
		return nil, "", fmt.Errorf("connecting to redis at '%s': %w; start the server or point --redis at it", redacted, err)
	}
	return client, stream, nil
}

// chainKey reads the chain key from ChainKeyEnv.
func (r *Runner) chainKey() ([]byte, error) {
	key := r.getenv(ChainKeyEnv)
	if key == "" {
		return nil, fmt.Errorf("missing chain key: set the %s environment variable to the gateways' audit chain_key", ChainKeyEnv)
	}
	if len(key) < audit.MinChainKeyLen {
		return nil, fmt.Errorf("invalid chain key in %s: it is %d bytes, and chain keys are at least %d; set it to the gateways' audit chain_key",
			ChainKeyEnv, len(key), audit.MinChainKeyLen)
	}
	return []byte(key), nil
}

// redactURL hides the password of a Redis URL, so that an error message
// can show the rest of it.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if strings.Contains(raw, "@") {
			// Unparsable but possibly carrying credentials: show no part
			// before the '@'.
			return "***@" + raw[strings.LastIndexByte(raw, '@')+1:]
		}
		return raw
	}
	return u.Redacted()
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f
}

// errCanceled reports whether err comes from the end of ctx, such as an
// interrupt during tail --follow.
func errCanceled(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ctx.Err()))
}
