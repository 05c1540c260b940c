package fleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Registry reads the fleet registry from Redis. It is safe for concurrent
// use.
type Registry struct {
	client redis.Cmdable
}

// NewRegistry returns a reader of the registry in client.
func NewRegistry(client redis.Cmdable) *Registry {
	return &Registry{client: client}
}

// Rev returns the registry revision, 0 when nothing was ever stored.
func (r *Registry) Rev(ctx context.Context) (int64, error) {
	rev, err := r.client.Get(ctx, KeysRevKey).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the key registry revision: %w", err)
	}
	return rev, nil
}

// Snapshot reads the revision and every record in one transaction, so the
// records are exactly those of that revision. Records that fail
// ParseStoredKey are left out and returned as bad, with one error each;
// the error is non-nil only when Redis could not be read.
func (r *Registry) Snapshot(ctx context.Context) (rev int64, keys map[string]StoredKey, bad []error, err error) {
	var revCmd *redis.StringCmd
	var allCmd *redis.MapStringStringCmd
	_, err = r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		revCmd = p.Get(ctx, KeysRevKey)
		allCmd = p.HGetAll(ctx, KeysHash)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, nil, nil, fmt.Errorf("reading the key registry: %w", err)
	}
	// A missing revision (redis.Nil) means an empty registry.
	for _, cmdErr := range []error{revCmd.Err(), allCmd.Err()} {
		if cmdErr != nil && !errors.Is(cmdErr, redis.Nil) {
			return 0, nil, nil, fmt.Errorf("reading the key registry: %w", cmdErr)
		}
	}

	if s, err := revCmd.Result(); err == nil {
		rev, err = strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("reading the key registry: revision '%s' is not a number", printable(s))
		}
	}
	keys = make(map[string]StoredKey, len(allCmd.Val()))
	for id, raw := range allCmd.Val() {
		sk, err := ParseStoredKey(id, []byte(raw))
		if err != nil {
			bad = append(bad, err)
			continue
		}
		keys[id] = sk
	}
	return rev, keys, bad, nil
}

// Get reads the record of key id. It returns found false when the
// registry has no such key.
func (r *Registry) Get(ctx context.Context, id string) (sk StoredKey, found bool, err error) {
	raw, err := r.client.HGet(ctx, KeysHash, id).Bytes()
	if errors.Is(err, redis.Nil) {
		return StoredKey{}, false, nil
	}
	if err != nil {
		return StoredKey{}, false, fmt.Errorf("reading key '%s': %w", id, err)
	}
	sk, err = ParseStoredKey(id, raw)
	if err != nil {
		return StoredKey{}, false, err
	}
	return sk, true, nil
}
