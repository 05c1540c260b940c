package review

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
	"github.com/awra/awragate/policy/keystore"
)

// ReasonKeyNarrowed is the reason of the admin audit event written for
// each key that ApplyNarrowing changed.
const ReasonKeyNarrowed policy.Reason = "key_narrowed"

// ReviewInstance is the audit instance name of the events the review
// writes; the pipeline appends a random epoch to it.
const ReviewInstance = "awragate-review"

// ApplyNarrowing applies plan to the keys file at path, under the keys
// file lock and with an atomic replace (see keystore.Update). It
// rejects the whole change, writing nothing, when a planned key is gone
// or its scopes or networks differ from what the review read.
func ApplyNarrowing(path string, plan []KeyNarrowing, now time.Time) error {
	return keystore.Update(path, func(f *policy.KeysFile) error {
		for _, n := range plan {
			i := slices.IndexFunc(f.Keys, func(k policy.KeyRecord) bool { return k.ID == n.KeyID })
			if i < 0 {
				return fmt.Errorf("key '%s' is no longer in the keys file, so nothing was changed: run the review again", n.KeyID)
			}
			rec := &f.Keys[i]
			if !slices.Equal(rec.Scopes, n.ScopesBefore) || !slices.Equal(rec.AllowedCIDRs, n.CIDRsBefore) {
				return fmt.Errorf("key '%s' changed since the review read the keys file, so nothing was changed: run the review again", n.KeyID)
			}
			rec.Scopes = slices.Clone(n.ScopesAfter)
			rec.AllowedCIDRs = slices.Clone(n.CIDRsAfter)
			rec.UpdatedAt = now.UTC()
		}
		return nil
	})
}

// NarrowingDetail describes a narrowing for an audit event's detail.
func NarrowingDetail(n KeyNarrowing, keysFile string) string {
	parts := []string{}
	if r := n.RemovedScopes(); len(r) > 0 {
		parts = append(parts, "removed_scopes="+strings.Join(r, ","))
	}
	if a := n.AddedScopes(); len(a) > 0 {
		parts = append(parts, "added_scopes="+strings.Join(a, ","))
	}
	if r := n.RemovedCIDRs(); len(r) > 0 {
		parts = append(parts, "removed_cidrs="+strings.Join(r, ","))
	}
	parts = append(parts, "keys_file="+keysFile)
	return strings.Join(parts, " ")
}

// RecordNarrowing writes one admin event with reason key_narrowed per
// narrowed key to the audit stream. It opens a pipeline of its own on a
// new temporary spool directory with cfg (which must name the Redis
// server, the stream and the chain key), so the events form a chain of
// their own instance. It waits until ctx is done for the events to reach
// Redis. The spool directory is removed when every event was published;
// otherwise the error names it.
func RecordNarrowing(ctx context.Context, cfg audit.Config, keysFile string, plan []KeyNarrowing, now time.Time) error {
	if cfg.RedisURL == "" && cfg.Client == nil {
		return errors.New("recording the changes needs the audit stream: give the Redis server with --redis")
	}
	spool, err := os.MkdirTemp("", "awragate-review-spool-")
	if err != nil {
		return fmt.Errorf("creating a spool directory for the audit events: %w", err)
	}
	cfg.SpoolDir = spool
	if cfg.Instance == "" {
		cfg.Instance = ReviewInstance
	}

	p, err := audit.Open(cfg)
	if err != nil {
		os.RemoveAll(spool)
		return fmt.Errorf("opening the audit pipeline: %w", err)
	}
	for _, n := range plan {
		ev := &audit.Event{
			TS:       now.UTC(),
			Module:   audit.ModuleAdmin,
			Decision: audit.DecisionAllow,
			Reason:   ReasonKeyNarrowed,
			KeyID:    n.KeyID,
			Detail:   NarrowingDetail(n, keysFile),
		}
		if !p.Enqueue(ev) {
			_ = p.Close(ctx)
			return fmt.Errorf("queueing the audit event of key '%s' failed; the events so far stay in spool '%s'", n.KeyID, spool)
		}
	}

	if err := p.Close(ctx); err != nil {
		return fmt.Errorf("closing the audit pipeline: %w; the events stay in spool '%s'", err, spool)
	}
	st := p.Stats()
	if st.PublishedSeq < st.LastSeq {
		return fmt.Errorf("%d of %d audit events did not reach Redis in time; they stay in spool '%s', so keep that directory as the record of the change",
			st.LastSeq-st.PublishedSeq, st.LastSeq, spool)
	}
	return os.RemoveAll(spool)
}
