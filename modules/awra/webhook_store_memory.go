package awra

import (
	"context"
	"sync"
	"time"
)

// defaultMemoryStoreEntries bounds the in-process store. An event takes at
// most two entries (its state with its attempt count, and one replay key
// per admitted delivery), each about 200 bytes, so the bound is about
// 50 MB. This is an estimate from the key sizes, not a measurement.
const defaultMemoryStoreEntries = 250_000

// memorySweepInterval is how often a write removes every expired entry.
const memorySweepInterval = time.Minute

// processDeliveryStore is the in-process store of every awra_webhook route
// without Redis. It lives as long as the process, so a config reload keeps
// the state. Keys carry each route's prefix, so routes do not collide.
var processDeliveryStore = newMemoryDeliveryStore(defaultMemoryStoreEntries)

// memoryDeliveryStore keeps delivery state in this process only. It
// mirrors the Redis scripts step for step under one mutex. When it is
// full and nothing has expired, begin fails, and the handler responds 503
// rather than forget replay keys early.
type memoryDeliveryStore struct {
	maxEntries int

	mu        sync.Mutex
	events    map[string]*memoryEvent
	replays   map[string]time.Time // replay key -> expiry
	lastSweep time.Time
}

// memoryEvent is the state and attempt count of one event. The two expire
// separately, as the two Redis keys do.
type memoryEvent struct {
	state        string // "" when unset or expired
	stateExpires time.Time
	count        int
	countExpires time.Time
}

func newMemoryDeliveryStore(maxEntries int) *memoryDeliveryStore {
	return &memoryDeliveryStore{
		maxEntries: maxEntries,
		events:     make(map[string]*memoryEvent),
		replays:    make(map[string]time.Time),
	}
}

func (s *memoryDeliveryStore) begin(_ context.Context, now time.Time, k *deliveryKeys) (admission, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now, false)

	if k.replay != "" {
		if expires, ok := s.replays[k.replay]; ok && now.Before(expires) {
			return admitReplayed, nil
		}
	}

	ev := s.event(now, k.event)
	switch {
	case ev != nil && ev.state == eventDelivered:
		if err := s.storeReplay(now, k); err != nil {
			return 0, err
		}
		return admitDuplicate, nil
	case ev != nil && ev.state != "":
		return admitInFlight, nil
	}

	if ev == nil {
		if err := s.makeRoom(now, 2); err != nil {
			return 0, err
		}
		ev = &memoryEvent{}
		s.events[k.event] = ev
	}
	if ev.count == 0 {
		ev.countExpires = now.Add(k.window)
	}
	ev.count++
	if ev.count > k.maxDeliveries {
		return admitLimitExceeded, nil
	}

	ev.state = eventInFlightPrefix + k.token
	ev.stateExpires = now.Add(inFlightTTL)
	if err := s.storeReplay(now, k); err != nil {
		ev.state = ""
		return 0, err
	}
	return admitForward, nil
}

func (s *memoryDeliveryStore) delivered(_ context.Context, now time.Time, k *deliveryKeys) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.event(now, k.event)
	if ev == nil {
		if err := s.makeRoom(now, 1); err != nil {
			return err
		}
		ev = &memoryEvent{}
		s.events[k.event] = ev
	}
	ev.state = eventDelivered
	ev.stateExpires = now.Add(k.window)
	return nil
}

func (s *memoryDeliveryStore) release(_ context.Context, now time.Time, k *deliveryKeys) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev := s.event(now, k.event); ev != nil && ev.state == eventInFlightPrefix+k.token {
		ev.state = ""
	}
	if k.replay != "" {
		delete(s.replays, k.replay)
	}
	return nil
}

// event returns the live state of key, with expired parts cleared, or nil
// when nothing about the event is live. s.mu must be held.
func (s *memoryDeliveryStore) event(now time.Time, key string) *memoryEvent {
	ev, ok := s.events[key]
	if !ok {
		return nil
	}
	ev.expire(now)
	if ev.idle() {
		delete(s.events, key)
		return nil
	}
	return ev
}

// expire clears the parts of ev whose lifetime has passed.
func (ev *memoryEvent) expire(now time.Time) {
	if ev.state != "" && !now.Before(ev.stateExpires) {
		ev.state = ""
	}
	if ev.count != 0 && !now.Before(ev.countExpires) {
		ev.count = 0
	}
}

func (ev *memoryEvent) idle() bool { return ev.state == "" && ev.count == 0 }

// storeReplay records k's replay key, if it has one. s.mu must be held.
func (s *memoryDeliveryStore) storeReplay(now time.Time, k *deliveryKeys) error {
	if k.replay == "" {
		return nil
	}
	if _, ok := s.replays[k.replay]; !ok {
		if err := s.makeRoom(now, 1); err != nil {
			return err
		}
	}
	s.replays[k.replay] = now.Add(k.replayTTL)
	return nil
}

// makeRoom ensures that n more entries fit, sweeping expired entries when
// the store is full. s.mu must be held.
func (s *memoryDeliveryStore) makeRoom(now time.Time, n int) error {
	if s.size()+n <= s.maxEntries {
		return nil
	}
	s.sweep(now, true)
	if s.size()+n <= s.maxEntries {
		return nil
	}
	return errStoreFull
}

func (s *memoryDeliveryStore) size() int { return len(s.events) + len(s.replays) }

// sweep removes every expired entry, at most once per memorySweepInterval
// unless force is set. s.mu must be held.
func (s *memoryDeliveryStore) sweep(now time.Time, force bool) {
	if !force && now.Sub(s.lastSweep) < memorySweepInterval {
		return
	}
	s.lastSweep = now
	for key, expires := range s.replays {
		if !now.Before(expires) {
			delete(s.replays, key)
		}
	}
	for key, ev := range s.events {
		ev.expire(now)
		if ev.idle() {
			delete(s.events, key)
		}
	}
}
