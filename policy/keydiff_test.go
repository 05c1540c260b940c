package policy

import (
	"reflect"
	"testing"
	"time"
)

func TestDiffRegistries(t *testing.T) {
	same, _ := testKey(t, "same")
	revoked, _ := testKey(t, "revoked")
	resumed, _ := testKey(t, "resumed")
	resumed.Status = KeySuspended
	rotated, _ := testKey(t, "rotated")
	edited, _ := testKey(t, "edited")
	removed, _ := testKey(t, "removed")
	old := mustRegistry(t, same, revoked, resumed, rotated, edited, removed)

	revoked.Status = KeyRevoked
	revoked.UpdatedAt = testNow.Add(time.Minute)
	resumed.Status = KeyActive
	tok, _ := NewToken("rotated")
	rotated.Secrets = append(rotated.Secrets, SecretHash{Hash: FormatHash(HashToken(tok)), CreatedAt: testNow})
	edited.Scopes = []string{"inventory:read", "sales:read"}
	created, _ := testKey(t, "created")
	cur := mustRegistry(t, same, revoked, resumed, rotated, edited, created)

	got := DiffRegistries(old, cur)
	want := []KeyChange{
		{ChangeCreated, "created"},
		{ChangeEdited, "edited"},
		{ChangeRemoved, "removed"},
		{ChangeResumed, "resumed"},
		{ChangeRevoked, "revoked"},
		{ChangeRotated, "rotated"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DiffRegistries = %v, want %v", got, want)
	}
	if d := DiffRegistries(cur, cur); len(d) != 0 {
		t.Errorf("DiffRegistries(r, r) = %v, want none", d)
	}
}
