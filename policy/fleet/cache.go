package fleet

import (
	"sort"

	"github.com/awra/awragate/policy"
)

// Cache is an instance's copy of the fleet registry. Every change goes
// through a revision check, so a record only replaces an older one and
// no read that started before an edit can undo it. A Cache is not safe
// for concurrent use: one goroutine owns it and publishes compiled
// registries built from KeysFile.
type Cache struct {
	rev  int64 // revision of the newest snapshot applied
	keys map[string]StoredKey
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{keys: make(map[string]StoredKey)}
}

// Rev returns the revision of the newest snapshot applied, 0 before the
// first.
func (c *Cache) Rev() int64 { return c.rev }

// Len returns the number of cached keys.
func (c *Cache) Len() int { return len(c.keys) }

// ApplySnapshot replaces the cache with a snapshot of the whole registry
// taken at revision rev. Cached records newer than rev stay, because they
// arrived by pub/sub after the snapshot was read. A snapshot older than
// one already applied is ignored. It reports whether the cache changed.
func (c *Cache) ApplySnapshot(rev int64, keys map[string]StoredKey) bool {
	if rev < c.rev {
		return false
	}
	next := make(map[string]StoredKey, len(keys))
	for id, sk := range keys {
		next[id] = sk
	}
	for id, cached := range c.keys {
		if cached.Rev > rev {
			if snap, ok := next[id]; !ok || snap.Rev < cached.Rev {
				next[id] = cached
			}
		}
	}

	changed := len(next) != len(c.keys)
	if !changed {
		for id, sk := range next {
			if old, ok := c.keys[id]; !ok || old.Rev != sk.Rev || old.Record.Status != sk.Record.Status {
				changed = true
				break
			}
		}
	}
	c.rev = rev
	c.keys = next
	return changed
}

// ApplyRecord stores sk when the cache holds no record of its key or an
// older one. It reports whether the cache changed.
func (c *Cache) ApplyRecord(sk StoredKey) bool {
	if old, ok := c.keys[sk.Record.ID]; ok && old.Rev >= sk.Rev {
		return false
	}
	c.keys[sk.Record.ID] = sk
	return true
}

// ApplyStatus overwrites the status of cached key id with status, from an
// event at revision rev, without reading Redis: the fast path for
// revocation and suspension. It does nothing when the key is not cached
// (an unknown key is rejected anyway) or the cache already holds revision
// rev or a later one. It reports whether the cache changed.
func (c *Cache) ApplyStatus(id string, status policy.KeyStatus, rev int64) bool {
	old, ok := c.keys[id]
	if !ok || old.Rev >= rev {
		return false
	}
	rec := old.Record
	rec.Status = status
	c.keys[id] = StoredKey{Rev: rev, Record: rec}
	return true
}

// KeysFile returns the cached records as a keys file sorted by id, for
// policy.NewRegistry.
func (c *Cache) KeysFile() *policy.KeysFile {
	f := &policy.KeysFile{Version: policy.KeysFileVersion, Keys: make([]policy.KeyRecord, 0, len(c.keys))}
	for _, sk := range c.keys {
		f.Keys = append(f.Keys, sk.Record)
	}
	sort.Slice(f.Keys, func(i, j int) bool { return f.Keys[i].ID < f.Keys[j].ID })
	return f
}
