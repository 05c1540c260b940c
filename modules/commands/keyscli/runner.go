// Package keyscli runs the 'awragate keys' subcommands on a keys file. It
// is plain Go: the Caddy command package maps cobra flags onto these
// functions, and tests call them directly.
//
// Output rules: standard output receives a new token (create, rotate) or
// the requested listing (list, show), nothing else. Notes and warnings go
// to standard error. No output ever contains a token hash, and a token
// appears only on the one standard output line of create or rotate.
package keyscli

import (
	"fmt"
	"io"
	"time"

	"github.com/awra/awragate/policy"
)

// FileEnv is the environment variable that names the keys file when
// --file is not given.
const FileEnv = "AWRA_KEYS_FILE"

// Runner runs the keys subcommands. The zero value is not usable: set
// Stdout and Stderr. A Runner is safe for concurrent use if its writers
// are.
type Runner struct {
	// Stdout receives tokens and listings only.
	Stdout io.Writer

	// Stderr receives notes and warnings.
	Stderr io.Writer

	// Getenv reads environment variables. Nil means os.Getenv.
	Getenv func(string) string

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time

	// LockTimeout is passed to keystore.Store. Zero means
	// keystore.DefaultLockTimeout.
	LockTimeout time.Duration

	// RedisURL is the --redis flag: the Redis of the fleet key registry
	// (keys_store redis), used when no keys file is given. With a keys
	// file, Resume also lifts the key's quarantine there.
	RedisURL string
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// notef writes one note line to standard error.
func (r *Runner) notef(format string, args ...any) {
	fmt.Fprintf(r.Stderr, format+"\n", args...)
}

// KeyIDArg returns the single key id argument of the subcommand named
// command ("show", "rotate", ...), or an error that shows the usage.
func KeyIDArg(command string, args []string) (string, error) {
	switch len(args) {
	case 1:
		return args[0], nil
	case 0:
		return "", fmt.Errorf("missing key id: write 'awragate keys %s ID'; 'awragate keys list' shows the ids", command)
	}
	return "", fmt.Errorf("too many arguments %q: 'awragate keys %s' takes one key id", args, command)
}

// Revoke revokes key id in the keys file. Revocation is final.
func (r *Runner) Revoke(file, id string) error {
	s, err := r.store(file)
	if err != nil {
		return err
	}
	defer s.Close()
	ch, err := s.Revoke(id, r.now())
	if err != nil {
		return err
	}
	if ch.Unchanged {
		r.notef("key '%s' was already revoked; nothing changed", id)
		return nil
	}
	r.notef("revoked key '%s'; its tokens stop working when the gateway reloads %s", id, s.Location())
	return nil
}

// Suspend suspends key id until it is resumed.
func (r *Runner) Suspend(file, id string) error {
	s, err := r.store(file)
	if err != nil {
		return err
	}
	defer s.Close()
	ch, err := s.Suspend(id, r.now())
	if err != nil {
		return err
	}
	if ch.Unchanged {
		r.notef("key '%s' was already suspended; nothing changed", id)
		return nil
	}
	r.notef("suspended key '%s'; resume it with 'awragate keys resume %s'", id, id)
	return nil
}

// Resume makes a suspended key id active again and, with RedisURL, lifts
// its quarantine. A revoked key stays revoked.
func (r *Runner) Resume(file, id string) error {
	s, err := r.storeOrFile(file)
	if err != nil {
		return err
	}
	defer s.Close()
	now := r.now()
	ch, err := s.Resume(id, now)
	if err != nil {
		return err
	}
	lifted := false
	if r.RedisURL != "" {
		// A quarantine lives in Redis whichever store holds the key.
		if lifted, err = r.liftQuarantine(id); err != nil {
			return err
		}
	}
	switch {
	case !ch.Unchanged:
		r.notef("resumed key '%s'", id)
	case !lifted:
		r.notef("key '%s' is already active; nothing changed", id)
	}
	if lifted {
		r.notef("lifted the quarantine of key '%s'; every gateway accepts it again within a second", id)
	}

	// A resumed key that has expired still gets 401 key_expired.
	k, err := s.Get(id)
	if err == nil && !k.ExpiresAt.After(now) {
		r.notef("warning: key '%s' expired at %s, so the gateway still rejects it; create a new key", id, formatTime(*k.ExpiresAt))
	}
	return nil
}

// formatTime writes t as RFC 3339 in UTC, to the second.
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// effectiveStatus is the status the gateway acts on at now: the stored
// status, or "expired" for an active key past its expiry.
func effectiveStatus(k *policy.KeyRecord, now time.Time) string {
	if k.Status == policy.KeyActive && k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
		return "expired"
	}
	return string(k.Status)
}
