package awra

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
	"github.com/awra/awragate/policy/fleet"
)

const (
	// defaultKeysCacheTTL bounds how late a registry change reaches an
	// instance whose pub/sub message was lost.
	defaultKeysCacheTTL = 5 * time.Second

	// fleetKeysTimeout bounds each Redis read of the key registry.
	fleetKeysTimeout = 2 * time.Second
)

// fleetKeyStores shares one registry cache per Redis server and TTL
// across configurations.
var fleetKeyStores = caddy.NewUsagePool()

// fleetKeyStore serves the fleet key registry (keys_store redis) from a
// local cache. Pub/sub events update it at once; a revocation or
// suspension overwrites the cached status before Redis is read again.
// Every TTL/2 the store compares the registry revision and reads a full
// snapshot when it moved, so a lost event takes effect within the TTL.
// While Redis cannot be read, the last known registry keeps serving.
type fleetKeyStore struct {
	reader *fleet.Registry
	ttl    time.Duration
	logger *zap.Logger
	state  *redisState

	reg      atomic.Pointer[policy.Registry]
	audit    atomic.Pointer[audit.Pipeline]
	lastSync atomic.Int64 // Unix nanoseconds of the last successful read

	mu     sync.Mutex // guards cache, loaded and the registry swap
	cache  *fleet.Cache
	loaded bool // a registry from Redis was swapped in

	stop chan struct{}
	done sync.WaitGroup
}

func openFleetKeyStore(poolKey string, client *redis.Client, ttl time.Duration, logger *zap.Logger) (*fleetKeyStore, error) {
	val, _, err := fleetKeyStores.LoadOrNew(poolKey, func() (caddy.Destructor, error) {
		s := &fleetKeyStore{
			reader: fleet.NewRegistry(client),
			ttl:    ttl,
			logger: logger,
			cache:  fleet.NewCache(),
			stop:   make(chan struct{}),
		}
		s.state = &redisState{
			logger:  logger,
			downMsg: "key registry in Redis unreachable; the last known registry keeps serving",
			upMsg:   "key registry in Redis reachable again",
		}
		empty, _ := policy.NewRegistry(&policy.KeysFile{Version: policy.KeysFileVersion}, nil)
		s.reg.Store(empty)

		// A gateway that starts while Redis is down knows no keys and
		// rejects every key until the first read succeeds.
		if !s.sync() {
			logger.Error("key registry in Redis unreachable at start; every API key is rejected until it can be read")
		}

		subscriber{
			client:      client,
			channel:     fleet.KeysChannel,
			onMessage:   s.handleMessage,
			onSubscribe: func() { s.sync() },
			state:       s.state,
		}.start(&s.done, s.stop)
		s.done.Add(1)
		go s.refreshLoop()
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return val.(*fleetKeyStore), nil
}

// Destruct stops the goroutines once no configuration uses the store.
func (s *fleetKeyStore) Destruct() error {
	close(s.stop)
	s.done.Wait()
	return nil
}

func (s *fleetKeyStore) current() *policy.Registry { return s.reg.Load() }

// setAudit makes later changes record admin events in p.
func (s *fleetKeyStore) setAudit(p *audit.Pipeline) { s.audit.Store(p) }

// syncAge returns the time since the registry was last read from Redis.
func (s *fleetKeyStore) syncAge(now time.Time) time.Duration {
	last := s.lastSync.Load()
	if last == 0 {
		return 0
	}
	return now.Sub(time.Unix(0, last))
}

// sync reads a full snapshot and applies it. It reports success.
func (s *fleetKeyStore) sync() bool {
	ctx, cancel := context.WithTimeout(context.Background(), fleetKeysTimeout)
	defer cancel()
	rev, keys, bad, err := s.reader.Snapshot(ctx)
	if err != nil {
		s.state.fail(err)
		return false
	}
	s.markRead()
	for _, e := range bad {
		s.logger.Error("ignoring an invalid record in the key registry", zap.Error(e))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache.ApplySnapshot(rev, keys) || s.reg.Load().Len() != s.cache.Len() {
		s.rebuild("snapshot")
	}
	return true
}

func (s *fleetKeyStore) markRead() {
	s.state.ok()
	s.lastSync.Store(time.Now().UnixNano())
}

// refreshLoop compares the registry revision every TTL/2 and reads a
// snapshot when it moved.
func (s *fleetKeyStore) refreshLoop() {
	defer s.done.Done()
	ticker := time.NewTicker(max(s.ttl/2, 10*time.Millisecond))
	defer ticker.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-ticker.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), fleetKeysTimeout)
		rev, err := s.reader.Rev(ctx)
		cancel()
		if err != nil {
			s.state.fail(err)
			continue
		}
		s.markRead()
		s.mu.Lock()
		stale := rev != s.cache.Rev()
		s.mu.Unlock()
		if stale {
			s.sync()
		}
	}
}

// handleMessage applies one event: a revocation or suspension at once
// from the event itself, then every change from the record in Redis.
func (s *fleetKeyStore) handleMessage(payload string) {
	ev, err := fleet.ParseEvent([]byte(payload))
	if err != nil {
		s.logger.Warn("ignoring an invalid key registry event", zap.Error(err))
		return
	}
	if ev.Op != fleet.OpKey {
		return
	}
	if ev.Denies() {
		s.mu.Lock()
		if s.cache.ApplyStatus(ev.KeyID, ev.Status, ev.Rev) {
			s.rebuild("event")
		}
		s.mu.Unlock()
	}

	ctx, cancel := context.WithTimeout(context.Background(), fleetKeysTimeout)
	sk, found, err := s.reader.Get(ctx, ev.KeyID)
	cancel()
	if err != nil {
		// The refresher reads the change within the TTL.
		s.logger.Warn("reading a changed key failed", zap.String("key_id", ev.KeyID), zap.Error(err))
		return
	}
	if !found {
		return
	}
	s.mu.Lock()
	if s.cache.ApplyRecord(sk) {
		s.rebuild("event")
	}
	s.mu.Unlock()
}

// rebuild compiles the cache into a new registry, swaps it in and audits
// the key changes. s.mu must be held.
func (s *fleetKeyStore) rebuild(cause string) {
	old := s.reg.Load()
	reg, err := policy.NewRegistry(s.cache.KeysFile(), old)
	if err != nil {
		s.logger.Error("key registry from Redis rejected; the last good registry keeps serving", zap.Error(err))
		return
	}
	s.reg.Store(reg)
	if !s.loaded {
		// The first registry replaces the empty one of the start: its keys
		// are not changes.
		s.loaded = true
		s.logger.Info("key registry loaded from Redis", zap.Int("keys", reg.Len()))
		return
	}

	p := s.audit.Load()
	for _, ch := range policy.DiffRegistries(old, reg) {
		s.logger.Info("key changed", zap.String("key_id", ch.KeyID), zap.String("change", string(ch.Kind)), zap.String("cause", cause))
		if p == nil {
			continue
		}
		p.Enqueue(&audit.Event{
			Module:   audit.ModuleAdmin,
			Decision: audit.DecisionAllow,
			Reason:   policy.Reason(ch.Kind),
			KeyID:    ch.KeyID,
			Detail:   "keys_store=redis",
		})
	}
}
