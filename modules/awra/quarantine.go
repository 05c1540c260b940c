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

// quarantineRefresh is how often each instance re-reads the quarantined
// keys from Redis, the safety net for a lost pub/sub message. With it a
// quarantine reaches every instance within about this interval even
// without pub/sub.
const quarantineRefresh = time.Second

// quarantineTimeout bounds one read of the quarantined keys.
const quarantineTimeout = time.Second

// quarantineSets shares one set per Redis server across configurations.
var quarantineSets = caddy.NewUsagePool()

// quarantineSet is this instance's copy of the quarantined keys. Requests
// read it through an atomic pointer; the subscriber, the refresher and
// local quarantines replace it copy-on-write.
type quarantineSet struct {
	client *redis.Client
	logger *zap.Logger
	state  *redisState

	keys  atomic.Pointer[map[string]fleet.QuarantineRecord]
	audit atomic.Pointer[audit.Pipeline]

	// mu serializes updates. seq counts them, so that a refresh whose
	// read overlapped an update from pub/sub is dropped rather than
	// undoing it; the next refresh reads again.
	mu  sync.Mutex
	seq uint64

	stop chan struct{}
	done sync.WaitGroup
}

// openQuarantineSet returns the shared set for the Redis at poolKey, or
// starts one: an initial read, the subscriber (unless the test switch
// disables it) and the refresher.
func openQuarantineSet(poolKey string, client *redis.Client, logger *zap.Logger) (*quarantineSet, error) {
	val, _, err := quarantineSets.LoadOrNew(poolKey, func() (caddy.Destructor, error) {
		q := &quarantineSet{
			client: client,
			logger: logger,
			stop:   make(chan struct{}),
		}
		q.state = &redisState{
			logger:  logger,
			downMsg: "quarantined keys cannot be read from Redis; the last known set keeps applying",
			upMsg:   "quarantined keys readable from Redis again",
		}
		empty := map[string]fleet.QuarantineRecord{}
		q.keys.Store(&empty)
		q.refresh()

		subscriber{
			client:      client,
			channel:     fleet.QuarantineChannel,
			onMessage:   q.handleMessage,
			onSubscribe: q.refresh,
			state:       q.state,
		}.start(&q.done, q.stop)
		q.done.Add(1)
		go q.refreshLoop()
		return q, nil
	})
	if err != nil {
		return nil, err
	}
	return val.(*quarantineSet), nil
}

// Destruct stops the goroutines once no configuration uses the set.
func (q *quarantineSet) Destruct() error {
	close(q.stop)
	q.done.Wait()
	return nil
}

// has reports whether key id is quarantined. It does not allocate.
func (q *quarantineSet) has(id string) bool {
	m := *q.keys.Load()
	if len(m) == 0 {
		return false
	}
	_, ok := m[id]
	return ok
}

// size returns the number of quarantined keys.
func (q *quarantineSet) size() int { return len(*q.keys.Load()) }

// add marks key id quarantined on this instance at once.
func (q *quarantineSet) add(id string, rec fleet.QuarantineRecord) {
	q.update(func(m map[string]fleet.QuarantineRecord) { m[id] = rec })
}

// remove lifts the quarantine of key id on this instance and reports
// whether it was quarantined.
func (q *quarantineSet) remove(id string) bool {
	removed := false
	q.update(func(m map[string]fleet.QuarantineRecord) {
		_, removed = m[id]
		delete(m, id)
	})
	return removed
}

func (q *quarantineSet) update(change func(map[string]fleet.QuarantineRecord)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	old := *q.keys.Load()
	next := make(map[string]fleet.QuarantineRecord, len(old)+1)
	for id, rec := range old {
		next[id] = rec
	}
	change(next)
	q.seq++
	q.keys.Store(&next)
}

func (q *quarantineSet) handleMessage(payload string) {
	ev, err := fleet.ParseEvent([]byte(payload))
	if err != nil {
		q.logger.Warn("ignoring an invalid quarantine event", zap.Error(err))
		return
	}
	switch ev.Op {
	case fleet.OpQuarantine:
		q.add(ev.KeyID, fleet.QuarantineRecord{Instance: ev.Instance})
		q.logger.Info("key quarantined by another instance", zap.String("key_id", ev.KeyID), zap.String("by_instance", ev.Instance))
	case fleet.OpLift:
		if q.remove(ev.KeyID) {
			q.lifted(ev.KeyID)
		}
	}
}

// lifted logs and audits the end of a key's quarantine on this instance.
func (q *quarantineSet) lifted(id string) {
	q.logger.Info("key quarantine lifted", zap.String("key_id", id))
	if p := q.audit.Load(); p != nil {
		p.Enqueue(&audit.Event{
			Module:   audit.ModuleAdmin,
			Decision: audit.DecisionAllow,
			Reason:   fleet.ReasonQuarantineLifted,
			KeyID:    id,
			Detail:   "quarantine lifted in Redis",
		})
	}
}

// refresh replaces the set with the one in Redis, unless an update
// arrived while it was read.
func (q *quarantineSet) refresh() {
	q.mu.Lock()
	seq := q.seq
	q.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), quarantineTimeout)
	all, err := fleet.Quarantined(ctx, q.client)
	cancel()
	if err != nil {
		q.state.fail(err)
		return
	}
	q.state.ok()

	q.mu.Lock()
	if q.seq != seq {
		q.mu.Unlock()
		return
	}
	old := *q.keys.Load()
	q.seq++
	q.keys.Store(&all)
	q.mu.Unlock()

	for id := range old {
		if _, still := all[id]; !still {
			q.lifted(id)
		}
	}
	for id := range all {
		if _, before := old[id]; !before {
			q.logger.Info("key quarantined", zap.String("key_id", id), zap.String("by_instance", all[id].Instance))
		}
	}
}

func (q *quarantineSet) refreshLoop() {
	defer q.done.Done()
	ticker := time.NewTicker(quarantineRefresh)
	defer ticker.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-ticker.C:
			q.refresh()
		}
	}
}

// quarantined reports whether res, a result of Authenticate, is for a key
// under quarantine whose secret matched. Revoked and suspended keys keep
// their own reasons, and a wrong secret never learns the key's state.
func (a *App) quarantined(res policy.AuthResult) bool {
	if a.quarantine == nil || res.Key == nil {
		return false
	}
	switch res.Reason {
	case policy.ReasonKeyInvalid, policy.ReasonKeyRevoked, policy.ReasonKeySuspended:
		return false
	}
	return a.quarantine.has(res.Key.ID)
}
