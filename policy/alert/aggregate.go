package alert

import (
	"context"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
)

// aggregate is the Notifier's single grouping goroutine: it records each
// report, counts it towards quarantine, and claims each group when its
// alert is due.
func (n *Notifier) aggregate() {
	defer close(n.aggDone)
	defer close(n.out)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n.resetTimer(timer)
		select {
		case b := <-n.in:
			n.record(b)
		case <-timer.C:
			n.claimDue(false)
		case <-n.stop:
			// Reports queued before Close still count.
			for {
				select {
				case b := <-n.in:
					n.record(b)
					continue
				default:
				}
				break
			}
			n.claimDue(true)
			return
		}
	}
}

// resetTimer arms timer for the earliest pending claim.
func (n *Notifier) resetTimer(timer *time.Timer) {
	var next time.Time
	for _, p := range n.pending {
		if next.IsZero() || p.due.Before(next) {
			next = p.due
		}
	}
	n.stats.groupsWaiting.Store(int64(len(n.pending)))
	if next.IsZero() {
		timer.Stop()
		return
	}
	timer.Reset(max(0, next.Sub(n.cfg.Now())))
}

// record counts one report in its group, in Redis when possible and in
// this process otherwise.
func (n *Notifier) record(b Bypass) {
	now := n.cfg.Now()
	g := GroupOf(b)

	key := pendingKey{group: g}
	var due time.Time
	var flush bool
	var err error
	if n.cfg.Groups != nil {
		ctx, cancel := n.redisContext()
		due, flush, err = n.cfg.Groups.Record(ctx, g, b, now)
		cancel()
		n.noteSharedGroups(err)
		key.shared = err == nil
	}
	if !key.shared {
		due, flush, err = n.memory.Record(context.Background(), g, b, now)
		if err != nil {
			n.stats.reportsDropped.Add(1)
			n.log.Error("alert group not recorded", zap.String("key_id", b.KeyID), zap.Error(err))
		}
	}
	if flush {
		n.pending[key] = pendingClaim{due: due}
	}

	if b.Module == moduleAPIKey && n.cfg.Quarantine != nil {
		n.countQuarantine(b, now)
	}
}

// moduleAPIKey is the module of API key denials, the only ones that count
// towards a key's quarantine.
const moduleAPIKey = "api_key"

// noteSharedGroups logs when the shared groups stop or start responding,
// once per change.
func (n *Notifier) noteSharedGroups(err error) {
	switch {
	case err != nil:
		n.stats.groupErrors.Add(1)
		if n.sharedGroupUp {
			n.sharedGroupUp = false
			n.log.Warn("alert groups in Redis unavailable; grouping on this instance only until Redis responds", zap.Error(err))
		}
	case !n.sharedGroupUp:
		n.sharedGroupUp = true
		n.log.Info("alert groups in Redis available again")
	}
}

// countQuarantine counts an API key denial towards the key's quarantine
// and sends the quarantine alert when this denial crossed the threshold.
func (n *Notifier) countQuarantine(b Bypass, now time.Time) {
	ctx, cancel := n.redisContext()
	res, err := n.cfg.Quarantine.CountBypass(ctx, b.KeyID, now)
	cancel()
	if err != nil {
		n.stats.quarantineErrors.Add(1)
		if n.quarantineUp {
			n.quarantineUp = false
			n.log.Warn("quarantine counter in Redis unavailable; denials are not counted towards quarantine until Redis responds", zap.Error(err))
		}
		return
	}
	if !n.quarantineUp {
		n.quarantineUp = true
		n.log.Info("quarantine counter in Redis available again")
	}
	if !res.Quarantined {
		return
	}

	n.stats.quarantined.Add(1)
	if n.cfg.OnQuarantine != nil {
		n.cfg.OnQuarantine(b.KeyID, res)
	}
	at := b.At
	if at.IsZero() {
		at = now
	}
	n.emit(&Alert{
		ID:               newAlertID(),
		Kind:             KindQuarantine,
		Module:           b.Module,
		Reason:           policy.ReasonKeyQuarantined,
		KeyID:            b.KeyID,
		Owner:            b.Owner,
		ClientIP:         addrString(b),
		SourceNetwork:    prefixString(SourceNetwork(b.ClientIP)),
		AllowedNetworks:  prefixStrings(b.Allowed),
		Count:            int64(res.Count),
		FirstSeen:        at.Add(-n.cfg.QuarantineWindow).UTC(),
		LastSeen:         at.UTC(),
		Instance:         n.cfg.Instance,
		Quarantined:      true,
		QuarantineWindow: n.cfg.QuarantineWindow.String(),
		CreatedAt:        now.UTC(),
	})
}

// claimDue claims every pending group whose alert is due, or every one
// when force is set, and emits the alerts.
func (n *Notifier) claimDue(force bool) {
	now := n.cfg.Now()
	for key, p := range n.pending {
		if !force && now.Before(p.due) {
			continue
		}
		delete(n.pending, key)

		var groups Groups = n.memory
		if key.shared {
			groups = n.cfg.Groups
		}
		ctx, cancel := n.redisContext()
		snap, status, next, err := groups.Claim(ctx, key.group, now, force)
		cancel()

		switch {
		case err != nil:
			// Another instance takes over once the due time is Stale old,
			// so stop retrying then.
			if !force && now.Add(claimRetryDelay).Before(p.due.Add(n.cfg.Timing.Stale)) {
				n.pending[key] = pendingClaim{due: now.Add(claimRetryDelay), tries: p.tries + 1}
			}
			n.log.Warn("claiming an alert group failed", zap.String("key_id", key.group.KeyID),
				zap.Int("tries", p.tries+1), zap.Error(err))
		case status == ClaimEarly:
			n.pending[key] = pendingClaim{due: next, tries: p.tries}
		case status == ClaimTaken:
			n.emit(n.bypassAlert(key.group, snap, now))
		}
	}
}

// bypassAlert builds the alert of a claimed group.
func (n *Notifier) bypassAlert(g Group, snap Snapshot, now time.Time) *Alert {
	return &Alert{
		ID:              newAlertID(),
		Kind:            KindBypass,
		Module:          snap.Module,
		Reason:          g.Reason,
		KeyID:           g.KeyID,
		Owner:           snap.Owner,
		ClientIP:        snap.ClientIP,
		SourceNetwork:   prefixString(g.Network),
		AllowedNetworks: nonNil(snap.Allowed),
		Count:           snap.Count,
		Total:           snap.Total,
		FirstSeen:       snap.FirstSeen.UTC(),
		LastSeen:        snap.LastSeen.UTC(),
		Instance:        n.cfg.Instance,
		CreatedAt:       now.UTC(),
	}
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
