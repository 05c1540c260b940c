package fleet

import (
	"strconv"
	"testing"

	"github.com/awra/awragate/policy"
)

func stored(rev int64, id string, status policy.KeyStatus) StoredKey {
	rec := testRecord(id)
	rec.Status = status
	return StoredKey{Rev: rev, Record: rec}
}

// cacheState renders a cache as id -> "rev status" for comparisons.
func cacheState(c *Cache) map[string]string {
	out := map[string]string{}
	for _, rec := range c.KeysFile().Keys {
		out[rec.ID] = string(rec.Status) + "@" + strconv.FormatInt(c.keys[rec.ID].Rev, 10)
	}
	return out
}

func TestCache(t *testing.T) {
	type step struct {
		op      string // snapshot, record, status
		rev     int64
		keys    []StoredKey      // snapshot
		key     StoredKey        // record
		id      string           // status
		status  policy.KeyStatus // status
		changed bool
		want    map[string]string
	}
	scenarios := []struct {
		name  string
		steps []step
	}{
		{"snapshot then newer record", []step{
			{op: "snapshot", rev: 2, keys: []StoredKey{stored(1, "a", policy.KeyActive), stored(2, "b", policy.KeyActive)}, changed: true,
				want: map[string]string{"a": "active@1", "b": "active@2"}},
			{op: "record", key: stored(3, "a", policy.KeySuspended), changed: true,
				want: map[string]string{"a": "suspended@3", "b": "active@2"}},
			{op: "record", key: stored(3, "a", policy.KeyActive), changed: false,
				want: map[string]string{"a": "suspended@3", "b": "active@2"}},
		}},
		// A revocation applied from its event must survive a snapshot
		// that was read before the revocation: no delete-then-refill.
		{"stale snapshot cannot undo a revocation", []step{
			{op: "snapshot", rev: 5, keys: []StoredKey{stored(5, "a", policy.KeyActive)}, changed: true,
				want: map[string]string{"a": "active@5"}},
			{op: "status", id: "a", status: policy.KeyRevoked, rev: 6, changed: true,
				want: map[string]string{"a": "revoked@6"}},
			{op: "snapshot", rev: 5, keys: []StoredKey{stored(5, "a", policy.KeyActive)}, changed: false,
				want: map[string]string{"a": "revoked@6"}},
			// A later snapshot brings the full record of revision 6.
			{op: "snapshot", rev: 6, keys: []StoredKey{stored(6, "a", policy.KeyRevoked)}, changed: false,
				want: map[string]string{"a": "revoked@6"}},
		}},
		{"older snapshot ignored", []step{
			{op: "snapshot", rev: 9, keys: []StoredKey{stored(9, "a", policy.KeyActive)}, changed: true,
				want: map[string]string{"a": "active@9"}},
			{op: "snapshot", rev: 8, keys: nil, changed: false,
				want: map[string]string{"a": "active@9"}},
		}},
		{"snapshot removes keys it lacks", []step{
			{op: "snapshot", rev: 2, keys: []StoredKey{stored(1, "a", policy.KeyActive), stored(2, "b", policy.KeyActive)}, changed: true,
				want: map[string]string{"a": "active@1", "b": "active@2"}},
			{op: "snapshot", rev: 3, keys: []StoredKey{stored(2, "b", policy.KeyActive)}, changed: true,
				want: map[string]string{"b": "active@2"}},
		}},
		{"record newer than snapshot is kept", []step{
			{op: "record", key: stored(7, "c", policy.KeyActive), changed: true,
				want: map[string]string{"c": "active@7"}},
			{op: "snapshot", rev: 6, keys: []StoredKey{stored(1, "a", policy.KeyActive)}, changed: true,
				want: map[string]string{"a": "active@1", "c": "active@7"}},
		}},
		{"status of unknown key ignored", []step{
			{op: "status", id: "zz", status: policy.KeyRevoked, rev: 3, changed: false, want: map[string]string{}},
		}},
		{"status not newer ignored", []step{
			{op: "record", key: stored(4, "a", policy.KeyActive), changed: true, want: map[string]string{"a": "active@4"}},
			{op: "status", id: "a", status: policy.KeySuspended, rev: 4, changed: false, want: map[string]string{"a": "active@4"}},
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			c := NewCache()
			for i, s := range sc.steps {
				var changed bool
				switch s.op {
				case "snapshot":
					keys := map[string]StoredKey{}
					for _, sk := range s.keys {
						keys[sk.Record.ID] = sk
					}
					changed = c.ApplySnapshot(s.rev, keys)
				case "record":
					changed = c.ApplyRecord(s.key)
				case "status":
					changed = c.ApplyStatus(s.id, s.status, s.rev)
				}
				if changed != s.changed {
					t.Errorf("step %d (%s): changed = %v, want %v", i, s.op, changed, s.changed)
				}
				got := cacheState(c)
				if len(got) != len(s.want) {
					t.Errorf("step %d (%s): cache = %v, want %v", i, s.op, got, s.want)
					continue
				}
				for id, w := range s.want {
					if got[id] != w {
						t.Errorf("step %d (%s): cache = %v, want %v", i, s.op, got, s.want)
						break
					}
				}
			}
		})
	}
}
