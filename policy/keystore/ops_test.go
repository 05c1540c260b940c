package keystore

import (
	"crypto/subtle"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

// matchesHash reports whether token hashes to the stored hash. It compares
// in constant time after checking the decoded length, as the gateway does.
func matchesHash(t *testing.T, token, stored string) bool {
	t.Helper()
	sum, err := policy.ParseHash(stored)
	if err != nil {
		t.Fatalf("stored hash is invalid: %v", err)
	}
	got := policy.HashToken(token)
	return len(sum) == len(got) && subtle.ConstantTimeCompare(sum[:], got[:]) == 1
}

func mustGet(t *testing.T, s *Store, id string) *policy.KeyRecord {
	t.Helper()
	k, err := s.Get(id)
	if err != nil {
		t.Fatalf("Get(%q) error: %v", id, err)
	}
	return k
}

func TestCreate(t *testing.T) {
	s := newStore(t)
	opts := CreateOptions{
		ID:           "inventory-sync",
		Scopes:       []string{"inventory:read", "sales:*", "inventory:read"},
		AllowedCIDRs: []string{"10.0.0.0/8", "192.0.2.7", "::ffff:10.0.0.0/104", "2001:db8::/32"},
		IPException:  "",
		ExpiresIn:    48 * time.Hour,
		RateLimit:    &policy.RateLimit{Rate: "20/s", Burst: 40},
		Owner:        "platform team",
		Description:  "nightly <sync> & export",
	}
	now := t0.Add(500 * time.Millisecond)
	token, ch, err := s.Create(opts, now)
	if err != nil {
		t.Fatalf("Create() error: %v", err)
	}

	if id, _, ok := policy.ParseToken(token); !ok || id != "inventory-sync" {
		t.Errorf("ParseToken(created token) = id %q, ok %v; want inventory-sync, true", id, ok)
	}
	if want := (Change{Kind: ChangeCreated, KeyID: "inventory-sync", At: t0}); ch != want {
		t.Errorf("Create() change = %+v, want %+v", ch, want)
	}

	k := mustGet(t, s, "inventory-sync")
	checks := []struct {
		name      string
		got, want any
	}{
		{"scopes", strings.Join(k.Scopes, ","), "inventory:read,sales:*"},
		{"allowed_cidrs", strings.Join(k.AllowedCIDRs, ","), "10.0.0.0/8,192.0.2.7/32,2001:db8::/32"},
		{"status", k.Status, policy.KeyActive},
		{"created_at", k.CreatedAt, t0},
		{"updated_at", k.UpdatedAt, t0},
		{"expires_at", *k.ExpiresAt, t0.Add(48 * time.Hour)},
		{"rate_limit", *k.RateLimit, policy.RateLimit{Rate: "20/s", Burst: 40}},
		{"owner", k.Owner, "platform team"},
		{"description", k.Description, "nightly <sync> & export"},
		{"len(secrets)", len(k.Secrets), 1},
		{"secrets[0].created_at", k.Secrets[0].CreatedAt, t0},
		{"secrets[0].not_after", k.Secrets[0].NotAfter, (*time.Time)(nil)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("created key %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !matchesHash(t, token, k.Secrets[0].Hash) {
		t.Error("created token does not match the stored hash")
	}
}

func TestCreateDefaultExpiry(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "a")
	k := mustGet(t, s, "a")
	if got, want := *k.ExpiresAt, t0.Add(90*24*time.Hour); !got.Equal(want) {
		t.Errorf("expires_at with ExpiresIn 0 = %s, want %s", got, want)
	}
}

func TestCreateRejectsInvalidOptions(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(*CreateOptions)
		field     string
		wantInErr string
	}{
		{"empty id", func(o *CreateOptions) { o.ID = "" }, "ID", "invalid key id ''"},
		{"upper-case id", func(o *CreateOptions) { o.ID = "Inv" }, "ID", "invalid key id 'Inv'"},
		{"underscore in id", func(o *CreateOptions) { o.ID = "a_b" }, "ID", "'a_b'"},
		{"id too long", func(o *CreateOptions) { o.ID = strings.Repeat("a", 65) }, "ID", "1 to 64"},
		{"no scopes", func(o *CreateOptions) { o.Scopes = nil }, "Scopes", "inventory:read"},
		{"scope without action", func(o *CreateOptions) { o.Scopes = []string{"inventory"} }, "Scopes", "invalid scope 'inventory'"},
		{"empty scope", func(o *CreateOptions) { o.Scopes = []string{""} }, "Scopes", "invalid scope ''"},
		{"scope with space", func(o *CreateOptions) { o.Scopes = []string{"inventory: read"} }, "Scopes", "'inventory: read'"},
		{"no networks", func(o *CreateOptions) { o.AllowedCIDRs = nil }, "AllowedCIDRs", "0.0.0.0/0 and ::/0"},
		{"bad network", func(o *CreateOptions) { o.AllowedCIDRs = []string{"10.0.0/8"} }, "AllowedCIDRs", "invalid network '10.0.0/8'"},
		{"host bits set", func(o *CreateOptions) { o.AllowedCIDRs = []string{"10.0.0.1/8"} }, "AllowedCIDRs", "host bits"},
		{"host name", func(o *CreateOptions) { o.AllowedCIDRs = []string{"example.com"} }, "AllowedCIDRs", "'example.com'"},
		{"negative lifetime", func(o *CreateOptions) { o.ExpiresIn = -time.Hour }, "ExpiresIn", "more than zero"},
		{"lifetime too long", func(o *CreateOptions) { o.ExpiresIn = MaxExpiresIn + time.Second }, "ExpiresIn", "at most 3650 days"},
		{"bad rate", func(o *CreateOptions) { o.RateLimit = &policy.RateLimit{Rate: "20", Burst: 1} }, "RateLimit.Rate", "invalid rate '20'"},
		{"NaN rate", func(o *CreateOptions) { o.RateLimit = &policy.RateLimit{Rate: "NaN/s", Burst: 1} }, "RateLimit.Rate", "'NaN/s'"},
		{"zero rate", func(o *CreateOptions) { o.RateLimit = &policy.RateLimit{Rate: "0/s", Burst: 1} }, "RateLimit.Rate", "'0/s'"},
		{"zero burst", func(o *CreateOptions) { o.RateLimit = &policy.RateLimit{Rate: "1/s"} }, "RateLimit.Burst", "at least 1"},
		{"negative burst", func(o *CreateOptions) { o.RateLimit = &policy.RateLimit{Rate: "1/s", Burst: -3} }, "RateLimit.Burst", "'-3'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			opts := validOptions("a")
			tt.edit(&opts)

			if err := opts.Validate(); err == nil {
				t.Errorf("Validate() = nil, want an error")
			}
			_, _, err := s.Create(opts, t0)
			var oe *OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("Create() = %v, want an *OptionError", err)
			}
			if oe.Field != tt.field {
				t.Errorf("Create() error field = %q, want %q", oe.Field, tt.field)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("Create() error = %q, want it to contain %q", err, tt.wantInErr)
			}
			if _, err := s.Load(); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("keys file written after a rejected create: Load() = %v", err)
			}
		})
	}
}

func TestCreateRejectsExistingID(t *testing.T) {
	tests := []struct {
		name   string
		status func(*Store) error
		want   string
	}{
		{"active", func(*Store) error { return nil }, "keys rotate a"},
		{"suspended", func(s *Store) error { _, err := s.Suspend("a", t0); return err }, "keys rotate a"},
		{"revoked", func(s *Store) error { _, err := s.Revoke("a", t0); return err }, "never reused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			mustCreate(t, s, "a")
			if err := tt.status(s); err != nil {
				t.Fatal(err)
			}
			_, _, err := s.Create(validOptions("a"), t0)
			if !errors.Is(err, ErrKeyExists) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Create() of existing id = %v, want ErrKeyExists mentioning %q", err, tt.want)
			}
			if got := len(mustLoad(t, s).Keys); got != 1 {
				t.Errorf("keys after a rejected create = %d, want 1", got)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	s := newStore(t)
	oldToken := mustCreate(t, s, "a")
	now := t0.Add(time.Hour)

	newToken, ch, err := s.Rotate("a", 24*time.Hour, now)
	if err != nil {
		t.Fatalf("Rotate() error: %v", err)
	}
	if want := (Change{Kind: ChangeRotated, KeyID: "a", At: now}); ch != want {
		t.Errorf("Rotate() change = %+v, want %+v", ch, want)
	}
	if newToken == oldToken {
		t.Fatal("Rotate() returned the old token")
	}

	k := mustGet(t, s, "a")
	if len(k.Secrets) != 2 {
		t.Fatalf("len(secrets) after rotation = %d, want 2", len(k.Secrets))
	}
	old, cur := k.Secrets[0], k.Secrets[1]
	if !matchesHash(t, oldToken, old.Hash) {
		t.Error("secrets[0] does not hold the old token's hash")
	}
	if !matchesHash(t, newToken, cur.Hash) {
		t.Error("secrets[1] does not hold the new token's hash")
	}
	if old.NotAfter == nil || !old.NotAfter.Equal(now.Add(24*time.Hour)) {
		t.Errorf("old secret not_after = %v, want %s", old.NotAfter, now.Add(24*time.Hour))
	}
	if cur.NotAfter != nil || !cur.CreatedAt.Equal(now) {
		t.Errorf("new secret = created %s, not_after %v; want created %s, no not_after", cur.CreatedAt, cur.NotAfter, now)
	}
	if !k.UpdatedAt.Equal(now) {
		t.Errorf("updated_at = %s, want %s", k.UpdatedAt, now)
	}
}

func TestRotateZeroGrace(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "a")
	token, _, err := s.Rotate("a", 0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	k := mustGet(t, s, "a")
	if len(k.Secrets) != 1 || !matchesHash(t, token, k.Secrets[0].Hash) {
		t.Errorf("after rotation with grace 0: %d secrets, want only the new token's", len(k.Secrets))
	}
}

func TestRotateDropsEndedSecrets(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "a")
	if _, _, err := s.Rotate("a", time.Hour, t0); err != nil {
		t.Fatal(err)
	}

	// The first token's grace ends at t0+1h: exactly then it has ended.
	second, _, err := s.Rotate("a", time.Hour, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	k := mustGet(t, s, "a")
	if len(k.Secrets) != 2 {
		t.Fatalf("len(secrets) = %d, want 2: the ended first secret dropped", len(k.Secrets))
	}
	if matchesHash(t, second, k.Secrets[0].Hash) || !matchesHash(t, second, k.Secrets[1].Hash) {
		t.Error("the newest token is not the last secret")
	}
	if want := t0.Add(2 * time.Hour); !k.Secrets[0].NotAfter.Equal(want) {
		t.Errorf("previous secret not_after = %s, want %s", k.Secrets[0].NotAfter, want)
	}
}

func TestRotateKeepsEarlierGraceEnd(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "a")
	if _, _, err := s.Rotate("a", time.Hour, t0); err != nil {
		t.Fatal(err)
	}
	// A second rotation inside the first grace period must not extend the
	// first token's life.
	if _, _, err := s.Rotate("a", 24*time.Hour, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	k := mustGet(t, s, "a")
	if len(k.Secrets) != 3 {
		t.Fatalf("len(secrets) = %d, want 3", len(k.Secrets))
	}
	wants := []time.Time{t0.Add(time.Hour), t0.Add(time.Minute + 24*time.Hour)}
	for i, want := range wants {
		if got := k.Secrets[i].NotAfter; got == nil || !got.Equal(want) {
			t.Errorf("secrets[%d].not_after = %v, want %s", i, got, want)
		}
	}
}

func TestRotateSuspendedKeyStaysSuspended(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "a")
	if _, err := s.Suspend("a", t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Rotate("a", time.Hour, t0); err != nil {
		t.Fatalf("Rotate() of a suspended key = %v, want success", err)
	}
	if got := mustGet(t, s, "a").Status; got != policy.KeySuspended {
		t.Errorf("status after rotation = %s, want suspended", got)
	}
}

func TestRotateRejects(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		grace   time.Duration
		now     time.Time
		prepare func(*Store) error
		is      error
		want    string
	}{
		{"unknown key", "b", time.Hour, t0, nil, ErrKeyNotFound, "key 'b' not found"},
		{"invalid id", "B_", time.Hour, t0, nil, ErrKeyNotFound, "keys list"},
		{"negative grace", "a", -time.Second, t0, nil, nil, "invalid grace period '-1s'"},
		{"grace too long", "a", MaxRotationGrace + time.Hour, t0, nil, nil, "0 to 30 days"},
		{"revoked key", "a", time.Hour, t0, func(s *Store) error { _, err := s.Revoke("a", t0); return err }, ErrKeyRevoked, "revocation is final"},
		{"expired key", "a", time.Hour, t0.Add(DefaultExpiresIn), nil, nil, "expired at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			mustCreate(t, s, "a")
			if tt.prepare != nil {
				if err := tt.prepare(s); err != nil {
					t.Fatal(err)
				}
			}
			before := mustGet(t, s, "a")

			token, _, err := s.Rotate(tt.id, tt.grace, tt.now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Rotate(%q, %s) = %v, want an error containing %q", tt.id, tt.grace, err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Rotate(%q, %s) = %v, want errors.Is %v", tt.id, tt.grace, err, tt.is)
			}
			if token != "" {
				t.Error("Rotate() returned a token with its error")
			}
			if after := mustGet(t, s, "a"); len(after.Secrets) != len(before.Secrets) {
				t.Errorf("secrets after a rejected rotation = %d, want %d", len(after.Secrets), len(before.Secrets))
			}
		})
	}
}

func TestRotateMissingFile(t *testing.T) {
	s := newStore(t)
	_, _, err := s.Rotate("a", time.Hour, t0)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "awragate keys create") {
		t.Errorf("Rotate() on a missing file = %v, want a not-exist error saying how to create the file", err)
	}
	if _, err := s.Load(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rotate() created the keys file")
	}
}

func TestStatusChanges(t *testing.T) {
	type op func(*Store, string, time.Time) (Change, error)
	revoke, suspend, resume := (*Store).Revoke, (*Store).Suspend, (*Store).Resume

	tests := []struct {
		name      string
		from      policy.KeyStatus
		do        op
		want      policy.KeyStatus
		unchanged bool
		is        error
	}{
		{"suspend active", policy.KeyActive, suspend, policy.KeySuspended, false, nil},
		{"suspend suspended", policy.KeySuspended, suspend, policy.KeySuspended, true, nil},
		{"suspend revoked", policy.KeyRevoked, suspend, policy.KeyRevoked, false, ErrKeyRevoked},
		{"resume suspended", policy.KeySuspended, resume, policy.KeyActive, false, nil},
		{"resume active", policy.KeyActive, resume, policy.KeyActive, true, nil},
		{"resume revoked", policy.KeyRevoked, resume, policy.KeyRevoked, false, ErrKeyRevoked},
		{"revoke active", policy.KeyActive, revoke, policy.KeyRevoked, false, nil},
		{"revoke suspended", policy.KeySuspended, revoke, policy.KeyRevoked, false, nil},
		{"revoke revoked", policy.KeyRevoked, revoke, policy.KeyRevoked, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			mustCreate(t, s, "a")
			switch tt.from {
			case policy.KeySuspended:
				if _, err := s.Suspend("a", t0); err != nil {
					t.Fatal(err)
				}
			case policy.KeyRevoked:
				if _, err := s.Revoke("a", t0); err != nil {
					t.Fatal(err)
				}
			}

			later := t0.Add(time.Hour)
			ch, err := tt.do(s, "a", later)
			k := mustGet(t, s, "a")
			if k.Status != tt.want {
				t.Errorf("status = %s, want %s", k.Status, tt.want)
			}
			if tt.is != nil {
				if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), "awragate keys create") {
					t.Errorf("error = %v, want %v with the fix", err, tt.is)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v, want nil", err)
			}
			if ch.KeyID != "a" || ch.Unchanged != tt.unchanged || !ch.At.Equal(later) {
				t.Errorf("change = %+v, want key a, unchanged %v, at %s", ch, tt.unchanged, later)
			}
			wantUpdated := later
			if tt.unchanged {
				wantUpdated = t0
			}
			if !k.UpdatedAt.Equal(wantUpdated) {
				t.Errorf("updated_at = %s, want %s", k.UpdatedAt, wantUpdated)
			}
		})
	}
}

func TestStatusChangeKinds(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "a")
	steps := []struct {
		do   func(string, time.Time) (Change, error)
		want ChangeKind
	}{
		{s.Suspend, ChangeSuspended},
		{s.Resume, ChangeResumed},
		{s.Revoke, ChangeRevoked},
	}
	for i, step := range steps {
		ch, err := step.do("a", t0)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if ch.Kind != step.want {
			t.Errorf("step %d: kind = %s, want %s", i, ch.Kind, step.want)
		}
	}
}

func TestStatusChangeUnknownKey(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "a")
	for name, do := range map[string]func(string, time.Time) (Change, error){
		"revoke": s.Revoke, "suspend": s.Suspend, "resume": s.Resume,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := do("zz", t0)
			if !errors.Is(err, ErrKeyNotFound) || !strings.Contains(err.Error(), "key 'zz' not found") {
				t.Errorf("%s(zz) = %v, want ErrKeyNotFound naming the key", name, err)
			}
		})
	}
}

func TestGetUnknownKey(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "a")
	if _, err := s.Get("b"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Get(b) = %v, want ErrKeyNotFound", err)
	}
}
