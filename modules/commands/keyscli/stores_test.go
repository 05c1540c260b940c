package keyscli

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/internal/testredis"
	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/fleet"
	"github.com/awra/awragate/policy/keystore"
)

// redisRunner returns a runner on the fleet registry at url, at the
// current time, so that the keys it creates have not expired.
func redisRunner(url string, stdout, stderr *bytes.Buffer) *Runner {
	stdout.Reset()
	stderr.Reset()
	return &Runner{
		Stdout:   stdout,
		Stderr:   stderr,
		Getenv:   func(string) string { return "" },
		RedisURL: url,
	}
}

func TestRunnerFleetRegistry(t *testing.T) {
	srv := testredis.Start(t)
	var stdout, stderr bytes.Buffer

	err := redisRunner(srv.URL(), &stdout, &stderr).Create(CreateArgs{
		ID: "fleet-cli", Scopes: []string{"inventory:read"}, CIDRs: []string{"10.0.0.0/8"}, ExpiresIn: "1d", Owner: "ops",
	})
	if err != nil {
		t.Fatalf("Create --redis: %v", err)
	}
	token := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(token, "awra_fleet-cli_") {
		t.Fatalf("Create --redis stdout is %d bytes, want one token", stdout.Len())
	}
	if !strings.Contains(stderr.String(), "created key 'fleet-cli' in "+srv.URL()) {
		t.Errorf("Create --redis stderr = %q, want a note naming the Redis URL", stderr.String())
	}

	steps := []struct {
		name       string
		run        func(r *Runner) error
		wantStatus policy.KeyStatus
		wantNote   string
	}{
		{"suspend", func(r *Runner) error { return r.Suspend("", "fleet-cli") }, policy.KeySuspended, "suspended key 'fleet-cli'"},
		{"resume", func(r *Runner) error { return r.Resume("", "fleet-cli") }, policy.KeyActive, "resumed key 'fleet-cli'"},
		{"resume active", func(r *Runner) error { return r.Resume("", "fleet-cli") }, policy.KeyActive, "already active; nothing changed"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.run(redisRunner(srv.URL(), &stdout, &stderr)); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if !strings.Contains(stderr.String(), s.wantNote) {
				t.Errorf("%s stderr = %q, want %q", s.name, stderr.String(), s.wantNote)
			}
			if err := redisRunner(srv.URL(), &stdout, &stderr).Show("", "fleet-cli", false); err != nil {
				t.Fatalf("Show: %v", err)
			}
			if !regexp.MustCompile(`(?m)^status:\s+` + string(s.wantStatus) + `$`).MatchString(stdout.String()) {
				t.Errorf("Show after %s = %q, want status %s", s.name, stdout.String(), s.wantStatus)
			}
		})
	}

	t.Run("resume lifts a quarantine", func(t *testing.T) {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		defer client.Close()
		q := fleet.NewQuarantine(client, 1, time.Minute, "gw1")
		if res, err := q.CountBypass(context.Background(), "fleet-cli", time.Now()); err != nil || !res.Quarantined {
			t.Fatalf("CountBypass = %+v, %v, want the key quarantined", res, err)
		}
		if err := redisRunner(srv.URL(), &stdout, &stderr).Resume("", "fleet-cli"); err != nil {
			t.Fatalf("Resume: %v", err)
		}
		if !strings.Contains(stderr.String(), "lifted the quarantine of key 'fleet-cli'") || strings.Contains(stderr.String(), "nothing changed") {
			t.Errorf("Resume of a quarantined active key: stderr = %q, want only the lift note", stderr.String())
		}
		all, err := fleet.Quarantined(context.Background(), client)
		if err != nil || len(all) != 0 {
			t.Errorf("Quarantined() after resume = %v, %v, want none", all, err)
		}
	})

	t.Run("list", func(t *testing.T) {
		if err := redisRunner(srv.URL(), &stdout, &stderr).List("", false); err != nil {
			t.Fatalf("List: %v", err)
		}
		if !strings.Contains(stdout.String(), "fleet-cli") || strings.Contains(stdout.String(), token[len(token)-20:]) {
			t.Errorf("List --redis = %q, want the key without its token", stdout.String())
		}
	})

	t.Run("revoke is final", func(t *testing.T) {
		r := redisRunner(srv.URL(), &stdout, &stderr)
		if err := r.Revoke("", "fleet-cli"); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if err := redisRunner(srv.URL(), &stdout, &stderr).Resume("", "fleet-cli"); !errors.Is(err, keystore.ErrKeyRevoked) {
			t.Errorf("Resume of a revoked key = %v, want ErrKeyRevoked", err)
		}
	})

	if strings.Contains(stderr.String(), token) {
		t.Errorf("standard error contains the token")
	}
}

func TestRunnerStoreSelection(t *testing.T) {
	var stdout, stderr bytes.Buffer
	r := redisRunner("redis://127.0.0.1:1/0", &stdout, &stderr)
	err := r.Suspend("keys.json", "k")
	if err == nil || !strings.Contains(err.Error(), "--file and --redis name two different key registries") {
		t.Errorf("Suspend with --file and --redis = %v, want an error that names both flags", err)
	}

	r = redisRunner("://not a url", &stdout, &stderr)
	if err := r.List("", false); err == nil || !strings.Contains(err.Error(), "--redis: invalid URL") {
		t.Errorf("List with an invalid --redis = %v, want an invalid URL error", err)
	}
}

func TestRedactRedisURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:s3cret@127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://ops:s3cret@127.0.0.1:6379/0", "redis://ops@127.0.0.1:6379/0"},
		{"::bad", "::bad"},
	}
	for _, tt := range tests {
		if got := redactRedisURL(tt.in); got != tt.want {
			t.Errorf("redactRedisURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
