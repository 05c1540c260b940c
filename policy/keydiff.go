package policy

import (
	"reflect"
	"sort"
)

// KeyChangeKind names what happened to a key between two registries.
type KeyChangeKind string

// Kinds of key changes, used as audit reason codes of admin events.
const (
	ChangeCreated   KeyChangeKind = "key_created"
	ChangeRemoved   KeyChangeKind = "key_removed"
	ChangeRotated   KeyChangeKind = "key_rotated"
	ChangeRevoked   KeyChangeKind = "key_revoked"
	ChangeSuspended KeyChangeKind = "key_suspended"
	ChangeResumed   KeyChangeKind = "key_resumed"
	ChangeEdited    KeyChangeKind = "key_changed"
)

// KeyChange is one difference between two registries.
type KeyChange struct {
	Kind  KeyChangeKind
	KeyID string
}

// DiffRegistries lists what changed from old to cur, sorted by key id. A
// key can change in several ways at once (rotated and suspended); each
// gets its own entry. Status changes come first, then rotation, then any
// other edit of the record (scopes, networks, expiry, limits, owner).
func DiffRegistries(old, cur *Registry) []KeyChange {
	var out []KeyChange
	for _, k := range cur.Keys() {
		prev, ok := old.Lookup(k.ID)
		if !ok {
			out = append(out, KeyChange{ChangeCreated, k.ID})
			continue
		}
		out = append(out, diffKey(prev.Record, k.Record)...)
	}
	for _, k := range old.Keys() {
		if _, ok := cur.Lookup(k.ID); !ok {
			out = append(out, KeyChange{ChangeRemoved, k.ID})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].KeyID < out[j].KeyID })
	return out
}

func diffKey(prev, cur KeyRecord) []KeyChange {
	var out []KeyChange
	if prev.Status != cur.Status {
		switch cur.Status {
		case KeyRevoked:
			out = append(out, KeyChange{ChangeRevoked, cur.ID})
		case KeySuspended:
			out = append(out, KeyChange{ChangeSuspended, cur.ID})
		case KeyActive:
			out = append(out, KeyChange{ChangeResumed, cur.ID})
		}
	}
	if !sameSecretHashes(prev.Secrets, cur.Secrets) {
		out = append(out, KeyChange{ChangeRotated, cur.ID})
	}

	// Compare the rest of the record with status, secrets and timestamps
	// of the edit itself set equal.
	a, b := prev, cur
	a.Status, b.Status = "", ""
	a.Secrets, b.Secrets = nil, nil
	a.UpdatedAt = b.UpdatedAt
	if !reflect.DeepEqual(a, b) {
		out = append(out, KeyChange{ChangeEdited, cur.ID})
	}
	return out
}

func sameSecretHashes(a, b []SecretHash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Hash != b[i].Hash {
			return false
		}
	}
	return true
}
