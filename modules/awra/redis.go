package awra

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
)

// redisClients shares one client per Redis URL across configurations, so
// a config reload reuses the connection pool instead of opening another.
var redisClients = caddy.NewUsagePool()

// Timeouts of the shared client. Requests that consult Redis (webhook
// replay checks) wait at most about dial plus read time before they fail.
const (
	redisDialTimeout  = time.Second
	redisReadTimeout  = 500 * time.Millisecond
	redisWriteTimeout = 500 * time.Millisecond
)

type sharedRedis struct {
	*redis.Client
}

// Destruct closes the client once no configuration uses it.
func (s sharedRedis) Destruct() error { return s.Close() }

// openRedis returns the shared client for url. It does not connect: the
// first command does, so the gateway starts while Redis is down.
func openRedis(url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis '%s': %w; write it as redis://host:port/db", redactURL(url), err)
	}
	key := opts.Network + "|" + opts.Addr + "|" + fmt.Sprint(opts.DB) + "|" + opts.Username
	val, _, err := redisClients.LoadOrNew(key, func() (caddy.Destructor, error) {
		opts.DialTimeout = redisDialTimeout
		opts.ReadTimeout = redisReadTimeout
		opts.WriteTimeout = redisWriteTimeout
		opts.MaxRetries = 1
		// go-redis otherwise dials 5 times, 100 ms apart, before a command
		// fails; a request waiting on Redis should fail fast instead.
		opts.DialerRetries = 1
		return sharedRedis{redis.NewClient(opts)}, nil
	})
	if err != nil {
		return nil, err
	}
	return val.(sharedRedis).Client, nil
}

func releaseRedis(url string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil
	}
	key := opts.Network + "|" + opts.Addr + "|" + fmt.Sprint(opts.DB) + "|" + opts.Username
	_, err = redisClients.Delete(key)
	return err
}

// redactURL hides a password in a Redis URL before it is shown.
func redactURL(url string) string {
	opts, err := redis.ParseURL(url)
	if err != nil || opts.Password == "" {
		return url
	}
	return "redis://" + opts.Addr
}
