package keyscli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/fleet"
	"github.com/awra/awragate/policy/keystore"
)

// keyStore is the registry that the keys subcommands read and edit: a keys file
// (keystore.Store) or the fleet registry in Redis (fleet.Editor).
type keyStore interface {
	Create(opts keystore.CreateOptions, now time.Time) (string, keystore.Change, error)
	Rotate(id string, grace time.Duration, now time.Time) (string, keystore.Change, error)
	Revoke(id string, now time.Time) (keystore.Change, error)
	Suspend(id string, now time.Time) (keystore.Change, error)
	Resume(id string, now time.Time) (keystore.Change, error)
	Get(id string) (*policy.KeyRecord, error)
	Load() (*policy.KeysFile, error)

	// Location names the store in notes: the file path or the Redis URL
	// without its password.
	Location() string

	// Close releases the store's connections.
	Close() error
}

type fileStore struct{ *keystore.Store }

func (s fileStore) Location() string { return s.Path }
func (s fileStore) Close() error     { return nil }

type redisStore struct {
	*fleet.Editor
	client *redis.Client
	url    string
}

func (s redisStore) Location() string { return s.url }
func (s redisStore) Close() error     { return s.client.Close() }

// redisTimeout bounds each Redis call of the keys subcommands.
const redisTimeout = 5 * time.Second

// store returns the store that --file and --redis select: the keys file
// of --file, the fleet registry at --redis, or without either flag the
// keys file named by AWRA_KEYS_FILE. Giving both flags is an error.
func (r *Runner) store(file string) (keyStore, error) {
	if file != "" && r.RedisURL != "" {
		return nil, errors.New("--file and --redis name two different key registries: give one; only 'awragate keys resume' takes both, to lift a quarantine of a key in a keys file")
	}
	return r.storeOrFile(file)
}

// storeOrFile is store for resume: with both flags it returns the keys
// file, and Resume lifts the quarantine at --redis.
func (r *Runner) storeOrFile(file string) (keyStore, error) {
	if file == "" && r.RedisURL != "" {
		client, err := r.redisClient()
		if err != nil {
			return nil, err
		}
		display := redactRedisURL(r.RedisURL)
		return redisStore{Editor: &fleet.Editor{Client: client, Location: display}, client: client, url: display}, nil
	}
	if file == "" {
		getenv := r.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		file = getenv(FileEnv)
	}
	if file == "" {
		return nil, errMissingFile
	}
	return fileStore{&keystore.Store{Path: file, LockTimeout: r.LockTimeout}}, nil
}

// redisClient connects to --redis.
func (r *Runner) redisClient() (*redis.Client, error) {
	opts, err := redis.ParseURL(r.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis: invalid URL '%s': %w; write it as redis://host:port/db", redactRedisURL(r.RedisURL), err)
	}
	opts.DialTimeout = redisTimeout
	opts.ReadTimeout = redisTimeout
	opts.WriteTimeout = redisTimeout
	return redis.NewClient(opts), nil
}

// liftQuarantine removes key id's quarantine in the Redis at --redis and
// reports whether the key was quarantined.
func (r *Runner) liftQuarantine(id string) (bool, error) {
	client, err := r.redisClient()
	if err != nil {
		return false, err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	return fleet.Lift(ctx, client, id)
}

// redactRedisURL returns url without its password, for messages.
func redactRedisURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		if name := u.User.Username(); name != "" {
			u.User = url.User(name)
		} else {
			u.User = nil
		}
	}
	return u.String()
}
