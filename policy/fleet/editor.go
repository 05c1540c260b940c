package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/keystore"
)

// editLua stores one edited record if the stored value is still the one
// the edit started from, raises the revision and publishes the change, in
// one atomic step.
//
// KEYS[1] is KeysHash and KEYS[2] KeysRevKey. ARGV: key id, the stored
// value read before the edit (empty when the key must not exist yet), the
// new record as JSON, the channel, the new status. The id and the status
// are checked by the caller, so they are safe inside the JSON text. It
// returns {revision}, {-1} when the key exists although it should not, or
// {-2} when the stored value changed since it was read.
const editLua = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '' then
  if cur then
    return {-1}
  end
elseif cur ~= ARGV[2] then
  return {-2}
end
local rev = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], '{"rev":' .. rev .. ',"record":' .. ARGV[3] .. '}')
redis.call('PUBLISH', ARGV[4], '{"v":1,"op":"key","key_id":"' .. ARGV[1] .. '","rev":' .. rev .. ',"status":"' .. ARGV[5] .. '"}')
return {rev}
`

var editScript = redis.NewScript(editLua)

// Edit script results.
const (
	editExists  = -1
	editChanged = -2
)

// maxEditAttempts bounds the retries of an edit that lost a race with
// another edit of the same key.
const maxEditAttempts = 5

// editTimeout bounds the Redis calls of one edit.
const editTimeout = 10 * time.Second

// Editor runs the key operations of package keystore on the fleet
// registry, for 'awragate keys --redis'. Each edit reads the key's record
// and applies the keystore operation to a one-key keys file in a private
// temporary directory, so the rules for ids, scopes, networks, expiry and
// rotation are exactly those of a keys file. A compare-and-set script then
// stores the result. Only token hashes reach Redis and the temporary file,
// which is removed at once. An Editor is safe for concurrent use.
type Editor struct {
	// Client is the Redis of the registry. Required.
	Client redis.Cmdable

	// Location names the registry in messages, for example the Redis
	// URL without its password.
	Location string
}

// location returns the registry's name for messages.
func (e *Editor) location() string {
	if e.Location == "" {
		return "the fleet registry"
	}
	return "the fleet registry at " + e.Location
}

// Create adds a new active key and returns its token. It rejects an id
// that the registry holds with any status, because ids are never reused.
func (e *Editor) Create(opts keystore.CreateOptions, now time.Time) (string, keystore.Change, error) {
	ctx, cancel := context.WithTimeout(context.Background(), editTimeout)
	defer cancel()

	if sk, found, err := NewRegistry(e.Client).Get(ctx, opts.ID); err != nil {
		return "", keystore.Change{}, err
	} else if found {
		return "", keystore.Change{}, e.existsError(&sk.Record)
	}

	var token string
	var ch keystore.Change
	rec, err := editInTempFile(nil, func(s *keystore.Store) (bool, error) {
		var err error
		token, ch, err = s.Create(opts, now)
		return err == nil, err
	})
	if err != nil {
		return "", keystore.Change{}, err
	}

	result, err := e.store(ctx, rec, "")
	if err != nil {
		return "", keystore.Change{}, err
	}
	if result == editExists {
		return "", keystore.Change{}, fmt.Errorf("key '%s' %w in %s: it was created by another edit just now; choose another id", opts.ID, keystore.ErrKeyExists, e.location())
	}
	return token, ch, nil
}

// Rotate gives key id a new token; see keystore.Store.Rotate.
func (e *Editor) Rotate(id string, grace time.Duration, now time.Time) (string, keystore.Change, error) {
	var token string
	ch, err := e.edit(id, func(s *keystore.Store) (keystore.Change, error) {
		var ch keystore.Change
		var err error
		token, ch, err = s.Rotate(id, grace, now)
		return ch, err
	})
	return token, ch, err
}

// Revoke marks key id revoked for good; see keystore.Store.Revoke.
func (e *Editor) Revoke(id string, now time.Time) (keystore.Change, error) {
	return e.edit(id, func(s *keystore.Store) (keystore.Change, error) { return s.Revoke(id, now) })
}

// Suspend marks key id suspended; see keystore.Store.Suspend.
func (e *Editor) Suspend(id string, now time.Time) (keystore.Change, error) {
	return e.edit(id, func(s *keystore.Store) (keystore.Change, error) { return s.Suspend(id, now) })
}

// Resume makes a suspended key id active; see keystore.Store.Resume. It
// does not lift a quarantine; see Lift.
func (e *Editor) Resume(id string, now time.Time) (keystore.Change, error) {
	return e.edit(id, func(s *keystore.Store) (keystore.Change, error) { return s.Resume(id, now) })
}

// Get returns the record of key id.
func (e *Editor) Get(id string) (*policy.KeyRecord, error) {
	ctx, cancel := context.WithTimeout(context.Background(), editTimeout)
	defer cancel()
	if !policy.ValidKeyID(id) {
		return nil, e.notFoundError(id)
	}
	sk, found, err := NewRegistry(e.Client).Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, e.notFoundError(id)
	}
	return &sk.Record, nil
}

// Load returns every record as a keys file sorted by id. A record that
// fails validation is an error, because a listing without it would hide
// it.
func (e *Editor) Load() (*policy.KeysFile, error) {
	ctx, cancel := context.WithTimeout(context.Background(), editTimeout)
	defer cancel()
	_, keys, bad, err := NewRegistry(e.Client).Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s holds %d invalid records, the first: %w; gateways ignore them", e.location(), len(bad), bad[0])
	}
	c := NewCache()
	c.ApplySnapshot(0, keys)
	return c.KeysFile(), nil
}

// edit applies op to key id and stores the result, reading again when
// another edit of the key won the race.
func (e *Editor) edit(id string, op func(*keystore.Store) (keystore.Change, error)) (keystore.Change, error) {
	if !policy.ValidKeyID(id) {
		return keystore.Change{}, e.notFoundError(id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), editTimeout)
	defer cancel()

	for range maxEditAttempts {
		raw, err := e.Client.HGet(ctx, KeysHash, id).Result()
		if errors.Is(err, redis.Nil) {
			return keystore.Change{}, e.notFoundError(id)
		}
		if err != nil {
			return keystore.Change{}, fmt.Errorf("reading key '%s' from %s: %w", id, e.location(), err)
		}
		sk, err := ParseStoredKey(id, []byte(raw))
		if err != nil {
			return keystore.Change{}, err
		}

		var ch keystore.Change
		rec, err := editInTempFile(&sk.Record, func(s *keystore.Store) (bool, error) {
			var err error
			ch, err = op(s)
			return err == nil && !ch.Unchanged, err
		})
		if err != nil || ch.Unchanged {
			return ch, err
		}

		result, err := e.store(ctx, rec, raw)
		if err != nil {
			return keystore.Change{}, err
		}
		if result != editChanged {
			return ch, nil
		}
	}
	return keystore.Change{}, fmt.Errorf("key '%s' in %s kept changing during the edit (%d attempts): try again", id, e.location(), maxEditAttempts)
}

// store runs the edit script and returns its result.
func (e *Editor) store(ctx context.Context, rec *policy.KeyRecord, expected string) (int64, error) {
	data, err := encodeRecord(rec)
	if err != nil {
		return 0, err
	}
	reply, err := editScript.Run(ctx, e.Client, []string{KeysHash, KeysRevKey},
		rec.ID, expected, data, KeysChannel, string(rec.Status)).Int64Slice()
	if err != nil {
		return 0, fmt.Errorf("storing key '%s' in %s: %w", rec.ID, e.location(), err)
	}
	if len(reply) != 1 {
		return 0, fmt.Errorf("storing key '%s' in %s: got %d values, want 1", rec.ID, e.location(), len(reply))
	}
	return reply[0], nil
}

func (e *Editor) notFoundError(id string) error {
	return fmt.Errorf("key '%s' %w in %s: see the key ids with 'awragate keys list --redis URL'", printable(id), keystore.ErrKeyNotFound, e.location())
}

func (e *Editor) existsError(rec *policy.KeyRecord) error {
	if rec.Status == policy.KeyRevoked {
		return fmt.Errorf("key '%s' %w in %s as a revoked key: choose another id, because ids are never reused", rec.ID, keystore.ErrKeyExists, e.location())
	}
	return fmt.Errorf("key '%s' %w in %s: choose another id, or give the key a new token with 'awragate keys rotate %s'", rec.ID, keystore.ErrKeyExists, e.location(), rec.ID)
}

// editInTempFile writes rec (none when nil) as a one-key keys file in a
// new private directory, runs op on it, and returns the key's record
// afterwards when op reports a change. The directory is removed before
// it returns.
func editInTempFile(rec *policy.KeyRecord, op func(*keystore.Store) (changed bool, err error)) (*policy.KeyRecord, error) {
	dir, err := os.MkdirTemp("", "awragate-keys-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary directory for the edit: %w", err)
	}
	defer os.RemoveAll(dir)

	s := &keystore.Store{Path: filepath.Join(dir, "keys.json")}
	if rec != nil {
		if err := s.Update(func(f *policy.KeysFile) error {
			f.Keys = []policy.KeyRecord{*rec}
			return nil
		}); err != nil {
			return nil, err
		}
	}

	changed, err := op(s)
	if err != nil || !changed {
		return nil, err
	}
	f, err := s.Load()
	if err != nil {
		return nil, err
	}
	if len(f.Keys) != 1 {
		return nil, fmt.Errorf("the edit left %d keys in the temporary keys file, want 1", len(f.Keys))
	}
	return &f.Keys[0], nil
}
