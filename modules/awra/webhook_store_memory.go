package awra

import (
	"context"
	"sync"
	"time"
)

// defaultMemoryStoreEntries bounds the in-process store. An event takes
// at most two entries per secret of its route (its state with its attempt
// count, and one replay key per admitted delivery), each about 200 bytes,
// so the bound is about 50 MB. This is an estimate from the key sizes,
// not a measurement.
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

// memoryEvent is the state and attempt count of one event under one
// secret's prefix, stored under its event key. The two expire separately,
// as the event and count keys in Redis do.
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

	for _, key := range k.replays {
		if s.replayLive(now, key) {
			return admitReplayed, nil
		}
	}
	// Past this point no replay key of k is in the map, so storing them
	// needs room for len(k.replays) entries.

	evs := make([]*memoryEvent, len(k.events))
	busy := false
	count, missing := 0, 0
	for i, key := range k.events {
		evs[i] = s.event(now, key)
		switch {
		case evs[i] == nil:
			missing++
			continue
		case evs[i].state == eventDelivered:
			if err := s.storeReplays(now, k); err != nil {
				return 0, err
			}
			return admitDuplicate, nil
		case evs[i].state != "":
			busy = true
		}
		count = max(count, evs[i].count)
	}
	if busy {
		return admitInFlight, nil
	}
	count++
	forward := count <= k.maxDeliveries
	need := missing
	if forward {
		need += len(k.replays)
	}
	if err := s.makeRoom(now, need); err != nil {
		return 0, err
	}

	for i, key := range k.events {
		ev := evs[i]
		if ev == nil {
			ev = &memoryEvent{}
			s.events[key] = ev
		}
		if ev.count == 0 {
			ev.countExpires = now.Add(k.window)
		}
		ev.count = count
		if forward {
			ev.state = eventInFlightPrefix + k.token
			ev.stateExpires = now.Add(inFlightTTL)
		}
	}
	if !forward {
		return admitLimitExceeded, nil
	}
	s.putReplays(now, k)
	return admitForward, nil
}

func (s *memoryDeliveryStore) delivered(_ context.Context, now time.Time, k *deliveryKeys) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := make([]*memoryEvent, len(k.events))
	missing := 0
	for i, key := range k.events {
		if evs[i] = s.event(now, key); evs[i] == nil {
			missing++
		}
	}
	if err := s.makeRoom(now, missing); err != nil {
		return err
	}
	for i, key := range k.events {
		ev := evs[i]
		if ev == nil {
			ev = &memoryEvent{}
			s.events[key] = ev
		}
		ev.state = eventDelivered
		ev.stateExpires = now.Add(k.window)
	}
	return nil
}

func (s *memoryDeliveryStore) release(_ context.Context, now time.Time, k *deliveryKeys) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range k.events {
		if ev := s.event(now, key); ev != nil && ev.state == eventInFlightPrefix+k.token {
			ev.state = ""
		}
	}
	for _, key := range k.replays {
		delete(s.replays, key)
	}
	return nil
}

// replayLive reports whether the replay key has not expired. It removes
// an expired one, as Redis does when a key is read after its expiry.
// s.mu must be held.
func (s *memoryDeliveryStore) replayLive(now time.Time, key string) bool {
	expires, ok := s.replays[key]
	if !ok {
		return false
	}
	if now.Before(expires) {
		return true
	}
	delete(s.replays, key)
	return false
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

// storeReplays records k's replay keys, if it has any. s.mu must be
// held, and none of the keys may be in s.replays.
func (s *memoryDeliveryStore) storeReplays(now time.Time, k *deliveryKeys) error {
	if err := s.makeRoom(now, len(k.replays)); err != nil {
		return err
	}
	s.putReplays(now, k)
	return nil
}

// putReplays records k's replay keys, for which the caller has made room.
// s.mu must be held.
func (s *memoryDeliveryStore) putReplays(now time.Time, k *deliveryKeys) {
	for _, key := range k.replays {
		s.replays[key] = now.Add(k.replayTTL)
	}
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
