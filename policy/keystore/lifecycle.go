package keystore

import (
	"errors"
	"fmt"
	"time"

	"github.com/awra/awragate/policy"
)

// MaxRotationGrace is the longest time a rotation lets the old token keep
// working. A long overlap would defeat a rotation made because a token
// leaked.
const MaxRotationGrace = 30 * 24 * time.Hour

// Errors that the key operations wrap, for errors.Is.
var (
	ErrKeyNotFound = errors.New("not found")
	ErrKeyExists   = errors.New("already exists")
	ErrKeyRevoked  = errors.New("is revoked")
)

// ChangeKind names an edit of a key, as audit events record it.
type ChangeKind string

// The kinds of change that the key operations make.
const (
	ChangeCreated   ChangeKind = "created"
	ChangeRotated   ChangeKind = "rotated"
	ChangeRevoked   ChangeKind = "revoked"
	ChangeSuspended ChangeKind = "suspended"
	ChangeResumed   ChangeKind = "resumed"
)

// Change records one key operation for the audit trail. It never holds a
// token or a hash.
type Change struct {
	Kind  ChangeKind `json:"kind"`
	KeyID string     `json:"key_id"`

	// At is the time of the operation, UTC, to the second. It is also the
	// key's new updated_at unless Unchanged is set.
	At time.Time `json:"at"`

	// Unchanged is set when the key already had the requested status, for
	// example when an active key is resumed. Nothing was written then.
	Unchanged bool `json:"unchanged,omitempty"`
}

// Rotate gives key id a new token and returns it. Older tokens of the key
// keep working until now+grace: Rotate sets that time as their not_after
// unless they already end sooner. A grace of zero removes the older tokens
// at once. Tokens whose not_after has passed are removed from the file.
// Rotate rejects a revoked key, an expired key and a grace outside 0 to
// MaxRotationGrace (30 days). A suspended key can be rotated and stays
// suspended.
func (s *Store) Rotate(id string, grace time.Duration, now time.Time) (token string, ch Change, err error) {
	if grace < 0 || grace > MaxRotationGrace {
		return "", Change{}, fmt.Errorf("invalid grace period '%s': use 0 to %d days", grace, MaxRotationGrace/(24*time.Hour))
	}
	if !policy.ValidKeyID(id) {
		return "", Change{}, notFoundError(s.Path, id)
	}
	token, err = policy.NewToken(id)
	if err != nil {
		return "", Change{}, err
	}

	now = now.UTC().Truncate(time.Second)
	err = s.update(true, func(f *policy.KeysFile) (bool, error) {
		k, err := s.find(f, id)
		if err != nil {
			return false, err
		}
		if k.Status == policy.KeyRevoked {
			return false, revokedError(id)
		}
		if !k.ExpiresAt.After(now) {
			return false, fmt.Errorf("key '%s' expired at %s, so a new token would not work: create a new key with 'awragate keys create'", id, k.ExpiresAt.UTC().Format(time.RFC3339))
		}

		end := now.Add(grace)
		valid := make([]policy.SecretHash, 0, len(k.Secrets)+1)
		for _, sec := range k.Secrets {
			if grace == 0 || sec.NotAfter != nil && !sec.NotAfter.After(now) {
				continue
			}
			if sec.NotAfter == nil || sec.NotAfter.After(end) {
				sec.NotAfter = &end
			}
			valid = append(valid, sec)
		}
		k.Secrets = append(valid, policy.SecretHash{
			Hash:      policy.FormatHash(policy.HashToken(token)),
			CreatedAt: now,
		})
		k.UpdatedAt = now
		return true, nil
	})
	if err != nil {
		return "", Change{}, err
	}
	return token, Change{Kind: ChangeRotated, KeyID: id, At: now}, nil
}

// Revoke marks key id revoked. Revocation is final: no operation makes the
// key active again. Revoking a revoked key changes nothing.
func (s *Store) Revoke(id string, now time.Time) (Change, error) {
	return s.setStatus(id, policy.KeyRevoked, ChangeRevoked, now)
}

// Suspend marks key id suspended until Resume. It rejects a revoked key.
// Suspending a suspended key changes nothing.
func (s *Store) Suspend(id string, now time.Time) (Change, error) {
	return s.setStatus(id, policy.KeySuspended, ChangeSuspended, now)
}

// Resume makes a suspended key id active again. It rejects a revoked key.
// Resuming an active key changes nothing. Resume does not extend the
// key's expiry.
func (s *Store) Resume(id string, now time.Time) (Change, error) {
	return s.setStatus(id, policy.KeyActive, ChangeResumed, now)
}

func (s *Store) setStatus(id string, status policy.KeyStatus, kind ChangeKind, now time.Time) (Change, error) {
	now = now.UTC().Truncate(time.Second)
	ch := Change{Kind: kind, KeyID: id, At: now}

	err := s.update(true, func(f *policy.KeysFile) (bool, error) {
		k, err := s.find(f, id)
		if err != nil {
			return false, err
		}
		if k.Status == status {
			ch.Unchanged = true
			return false, nil
		}
		if k.Status == policy.KeyRevoked {
			return false, revokedError(id)
		}
		k.Status = status
		k.UpdatedAt = now
		return true, nil
	})
	if err != nil {
		return Change{}, err
	}
	return ch, nil
}

// find returns the record of key id in f.
func (s *Store) find(f *policy.KeysFile, id string) (*policy.KeyRecord, error) {
	i := findKey(f, id)
	if i < 0 {
		return nil, notFoundError(s.Path, id)
	}
	return &f.Keys[i], nil
}

func findKey(f *policy.KeysFile, id string) int {
	for i := range f.Keys {
		if f.Keys[i].ID == id {
			return i
		}
	}
	return -1
}

func notFoundError(path, id string) error {
	return fmt.Errorf("key '%s' %w in '%s': see the key ids with 'awragate keys list --file %s'", id, ErrKeyNotFound, path, path)
}

func revokedError(id string) error {
	return fmt.Errorf("key '%s' %w, and revocation is final: create a new key with 'awragate keys create'", id, ErrKeyRevoked)
}

// Get loads the keys file and returns the record of key id.
func (s *Store) Get(id string) (*policy.KeyRecord, error) {
	f, err := s.Load()
	if err != nil {
		return nil, err
	}
	return s.find(f, id)
}
