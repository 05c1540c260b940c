package awra

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// disablePubSubEnv names the test-only switch that keeps the fleet
// subscribers from starting, so that tests can show the cache TTL bound
// without pub/sub. It is read at provision time and logged when set.
// Production configurations must never set it.
const disablePubSubEnv = "AWRA_TEST_DISABLE_PUBSUB"

// pubSubDisabled reports whether the test-only switch is set.
func pubSubDisabled() bool { return os.Getenv(disablePubSubEnv) == "1" }

const (
	// subscriberIdle is how long the subscriber waits for a message before
	// it pings the server, so that a dead connection is noticed.
	subscriberIdle = 5 * time.Second

	// subscriberRetry is the pause after a failed receive before the next
	// one reconnects.
	subscriberRetry = 250 * time.Millisecond
)

// redisState tracks whether a Redis-backed part works and logs each
// change once: a warning when it stops, an info line when it recovers.
// It is safe for concurrent use.
type redisState struct {
	down           atomic.Bool
	logger         *zap.Logger
	downMsg, upMsg string
}

func (s *redisState) fail(err error) {
	if s.down.CompareAndSwap(false, true) {
		s.logger.Warn(s.downMsg, zap.Error(err))
	}
}

func (s *redisState) ok() {
	if s.down.CompareAndSwap(true, false) {
		s.logger.Info(s.upMsg)
	}
}

func (s *redisState) up() bool { return !s.down.Load() }

// subscriber receives the messages of one channel until stop is closed.
// go-redis reconnects and subscribes again after a failure; each
// confirmed subscription calls onSubscribe, so the owner can read the
// state it may have missed while the connection was down.
type subscriber struct {
	client      *redis.Client
	channel     string
	onMessage   func(payload string)
	onSubscribe func()
	state       *redisState
}

// start runs sub in a goroutine that done tracks, unless pub/sub is
// turned off for tests; the goroutine ends when stop is closed.
func (sub subscriber) start(done *sync.WaitGroup, stop chan struct{}) {
	if pubSubDisabled() {
		return
	}
	done.Add(1)
	go func() {
		defer done.Done()
		sub.run(stop)
	}()
}

func (s subscriber) run(stop <-chan struct{}) {
	ctx := context.Background()
	ps := s.client.Subscribe(ctx, s.channel)
	var closed atomic.Bool
	go func() {
		<-stop
		closed.Store(true)
		ps.Close() // unblocks a waiting receive
	}()

	for !closed.Load() {
		msg, err := ps.ReceiveTimeout(ctx, subscriberIdle)
		if closed.Load() {
			return
		}
		if err != nil {
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				// Idle: a ping shows whether the connection still works.
				_ = ps.Ping(ctx)
				continue
			}
			s.state.fail(err)
			select {
			case <-stop:
				return
			case <-time.After(subscriberRetry):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				s.state.ok()
				s.onSubscribe()
			}
		case *redis.Message:
			s.onMessage(m.Payload)
		}
	}
}
