package alert

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Defaults of Timing.
const (
	DefaultGroupWait = 5 * time.Second
	DefaultCooldown  = 10 * time.Minute
	DefaultStale     = 10 * time.Second
)

// Timing sets when a group's alerts are sent.
type Timing struct {
	// Wait is the delay between a group's first denial and its alert, so
	// that denials arriving together, on any instance, share one alert.
	// Default 5s.
	Wait time.Duration

	// Cooldown is the minimum time between two alerts of one group.
	// Denials during the cooldown are counted into the next alert, which
	// is sent when the cooldown ends. Default 10m.
	Cooldown time.Duration

	// Stale is how long after a group's due time another instance takes
	// over the alert, in case the instance that should send it stopped.
	// Default 10s.
	Stale time.Duration
}

// WithDefaults returns t with every zero field set to its default.
func (t Timing) WithDefaults() Timing {
	if t.Wait <= 0 {
		t.Wait = DefaultGroupWait
	}
	if t.Cooldown <= 0 {
		t.Cooldown = DefaultCooldown
	}
	if t.Stale <= 0 {
		t.Stale = DefaultStale
	}
	return t
}

// ttl is how long a group is kept after its last denial: after two
// cooldowns without a denial the group starts over.
func (t Timing) ttl() time.Duration { return 2*t.Cooldown + t.Wait + t.Stale }

// dueAfter returns when the alert of a group is due after a denial at now,
// when its previous alert was sent at sent (zero: never).
func (t Timing) dueAfter(now, sent time.Time) time.Time {
	due := now.Add(t.Wait)
	if !sent.IsZero() {
		if end := sent.Add(t.Cooldown); end.After(due) {
			due = end
		}
	}
	return due
}

// Snapshot is the state of a group taken by Claim: the denials its alert
// reports.
type Snapshot struct {
	Count     int64
	Total     int64
	FirstSeen time.Time
	LastSeen  time.Time
	ClientIP  string
	Owner     string
	Module    string
	Allowed   []string
}

// ClaimStatus is the outcome of Claim.
type ClaimStatus int

// Claim outcomes.
const (
	// ClaimNone: nothing to send. Another instance sent the alert, or no
	// denial arrived since the previous one.
	ClaimNone ClaimStatus = iota

	// ClaimTaken: the snapshot is this caller's to send.
	ClaimTaken

	// ClaimEarly: the alert is not due yet; try again at the returned
	// time.
	ClaimEarly
)

// Groups counts denials per group and decides which instance sends each
// alert. Record and Claim are safe for concurrent use.
type Groups interface {
	// Record counts b in group g at now. It returns the time the group's
	// alert is due and whether this caller must call Claim then; exactly
	// one caller gets flush true per due time, unless the one that did
	// fails to claim within Timing.Stale after it.
	Record(ctx context.Context, g Group, b Bypass, now time.Time) (due time.Time, flush bool, err error)

	// Claim takes the denials counted in g since its previous alert and
	// starts the cooldown. With force it claims before the due time,
	// which a stopping instance does so that no count is lost.
	Claim(ctx context.Context, g Group, now time.Time, force bool) (Snapshot, ClaimStatus, time.Time, error)
}

// errTooManyGroups is returned by MemoryGroups.Record when it holds
// MaxGroups live groups.
var errTooManyGroups = errors.New("too many alert groups are active; the denial was not counted")

// DefaultMaxGroups bounds the groups a MemoryGroups keeps.
const DefaultMaxGroups = 10000

// MemoryGroups keeps groups in this process: the behaviour of RedisGroups
// for one instance. Gateways use it without Redis and while Redis cannot
// be reached. It is safe for concurrent use.
type MemoryGroups struct {
	timing    Timing
	maxGroups int

	mu     sync.Mutex
	groups map[Group]*groupState
}

type groupState struct {
	pending, total     int64
	pendingFirst, last time.Time
	ip, owner, module  string
	allowed            []string
	due, sent, expires time.Time
}

// NewMemoryGroups returns empty groups with timing t (after defaults) and
// room for maxGroups live groups; maxGroups < 1 means DefaultMaxGroups.
func NewMemoryGroups(t Timing, maxGroups int) *MemoryGroups {
	if maxGroups < 1 {
		maxGroups = DefaultMaxGroups
	}
	return &MemoryGroups{timing: t.WithDefaults(), maxGroups: maxGroups, groups: make(map[Group]*groupState)}
}

// Len returns the number of groups held, expired ones included until the
// next Record removes them.
func (m *MemoryGroups) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.groups)
}

// Record implements Groups.
func (m *MemoryGroups) Record(_ context.Context, g Group, b Bypass, now time.Time) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	st := m.groups[g]
	if st != nil && !now.Before(st.expires) {
		st = nil
	}
	if st == nil {
		if len(m.groups) >= m.maxGroups {
			m.removeExpired(now)
			if len(m.groups) >= m.maxGroups {
				return time.Time{}, false, errTooManyGroups
			}
		}
		st = &groupState{}
		m.groups[g] = st
	}

	st.pending++
	st.total++
	at := b.At
	if at.IsZero() {
		at = now
	}
	// Reports of several instances arrive out of order, so keep the
	// earliest first time and the details of the latest denial.
	if st.pendingFirst.IsZero() || at.Before(st.pendingFirst) {
		st.pendingFirst = at
	}
	if st.last.IsZero() || !at.Before(st.last) {
		st.last = at
		st.ip = addrString(b)
		st.owner = b.Owner
		st.module = b.Module
		st.allowed = prefixStrings(b.Allowed)
	}
	st.expires = now.Add(m.timing.ttl())

	flush := false
	if st.due.IsZero() || now.After(st.due.Add(m.timing.Stale)) {
		st.due = m.timing.dueAfter(now, st.sent)
		flush = true
	}
	return st.due, flush, nil
}

// Claim implements Groups.
func (m *MemoryGroups) Claim(_ context.Context, g Group, now time.Time, force bool) (Snapshot, ClaimStatus, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	st := m.groups[g]
	if st == nil || !now.Before(st.expires) || st.due.IsZero() {
		return Snapshot{}, ClaimNone, time.Time{}, nil
	}
	if !force && now.Before(st.due) {
		return Snapshot{}, ClaimEarly, st.due, nil
	}
	st.due = time.Time{}
	if st.pending == 0 {
		return Snapshot{}, ClaimNone, time.Time{}, nil
	}

	snap := Snapshot{
		Count:     st.pending,
		Total:     st.total,
		FirstSeen: st.pendingFirst,
		LastSeen:  st.last,
		ClientIP:  st.ip,
		Owner:     st.owner,
		Module:    st.module,
		Allowed:   st.allowed,
	}
	st.pending = 0
	st.pendingFirst = time.Time{}
	st.sent = now
	st.expires = now.Add(m.timing.ttl())
	return snap, ClaimTaken, time.Time{}, nil
}

func (m *MemoryGroups) removeExpired(now time.Time) {
	for g, st := range m.groups {
		if !now.Before(st.expires) {
			delete(m.groups, g)
		}
	}
}

func addrString(b Bypass) string {
	if !b.ClientIP.IsValid() {
		return ""
	}
	return b.ClientIP.String()
}
