package keystore

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/awra/awragate/policy"
)

// Limits on a new key's lifetime. Every key expires: a lifetime of zero
// means DefaultExpiresIn, never "no expiry".
const (
	DefaultExpiresIn = 90 * 24 * time.Hour
	MaxExpiresIn     = 3650 * 24 * time.Hour
)

// CreateOptions describes a new key. Scopes, networks and the rate limit
// use the formats of the keys file.
type CreateOptions struct {
	// ID is the key id: 1 to 64 characters of a-z, 0-9 and '-'.
	ID string

	// Scopes are "resource:action" grants. Either part may be "*".
	Scopes []string

	// AllowedCIDRs are the networks the key may be used from, IPv4 or
	// IPv6, at least one. Each is stored in canonical form: a bare address
	// becomes a /32 or /128 and an IPv4-mapped prefix its IPv4 form.
	AllowedCIDRs []string

	// IPException gives the reason for a key open to every address.
	IPException string

	// ExpiresIn is the key's lifetime from creation. Zero means
	// DefaultExpiresIn (90 days), and the maximum is MaxExpiresIn (3650
	// days).
	ExpiresIn time.Duration

	// RateLimit is the key's token bucket. Nil means no per-key limit.
	RateLimit *policy.RateLimit

	Owner       string
	Description string
}

// OptionError reports an invalid CreateOptions field, so that a command
// line can name its own flag for it.
type OptionError struct {
	// Field is the CreateOptions field at fault, for example "Scopes", or
	// "RateLimit.Rate" and "RateLimit.Burst" for the parts of the limit.
	Field string
	Err   error
}

func (e *OptionError) Error() string { return e.Err.Error() }

func (e *OptionError) Unwrap() error { return e.Err }

// Validate checks the options without touching a file and returns an
// *OptionError for the first invalid field.
func (o *CreateOptions) Validate() error {
	_, err := o.record(time.Unix(0, 0))
	return err
}

// record builds the new key's record, without secrets, as of now.
func (o *CreateOptions) record(now time.Time) (policy.KeyRecord, error) {
	if !policy.ValidKeyID(o.ID) {
		return policy.KeyRecord{}, &OptionError{"ID", fmt.Errorf("invalid key id '%s': use 1 to %d characters of a-z, 0-9 and '-', for example inventory-sync", o.ID, policy.MaxKeyIDLength)}
	}

	if len(o.Scopes) == 0 {
		return policy.KeyRecord{}, &OptionError{"Scopes", errors.New("missing scopes: grant at least one scope such as inventory:read")}
	}
	for _, s := range o.Scopes {
		if err := policy.ValidateScope(s); err != nil {
			return policy.KeyRecord{}, &OptionError{"Scopes", err}
		}
	}

	if len(o.AllowedCIDRs) == 0 {
		return policy.KeyRecord{}, &OptionError{"AllowedCIDRs", errors.New("missing networks: list the networks the key may be used from, or 0.0.0.0/0 and ::/0 to allow every address")}
	}
	cidrs := make([]string, 0, len(o.AllowedCIDRs))
	for _, c := range o.AllowedCIDRs {
		p, err := policy.ParseCIDR(c)
		if err != nil {
			return policy.KeyRecord{}, &OptionError{"AllowedCIDRs", err}
		}
		cidrs = append(cidrs, p.String())
	}

	lifetime := o.ExpiresIn
	if lifetime == 0 {
		lifetime = DefaultExpiresIn
	}
	if lifetime < 0 || lifetime > MaxExpiresIn {
		return policy.KeyRecord{}, &OptionError{"ExpiresIn", fmt.Errorf("invalid lifetime '%s': use more than zero and at most %d days", o.ExpiresIn, MaxExpiresIn/(24*time.Hour))}
	}

	var rl *policy.RateLimit
	if o.RateLimit != nil {
		perSecond, err := policy.ParseRate(o.RateLimit.Rate)
		if err != nil {
			return policy.KeyRecord{}, &OptionError{"RateLimit.Rate", err}
		}
		// NOTE: policy.ParseRate accepts "NaN/s" because NaN fails every
		// comparison, so it is rejected here until the parser does.
		if math.IsNaN(perSecond) {
			return policy.KeyRecord{}, &OptionError{"RateLimit.Rate", fmt.Errorf("invalid rate '%s': N must be a positive number, for example 20/s", o.RateLimit.Rate)}
		}
		if o.RateLimit.Burst < 1 {
			return policy.KeyRecord{}, &OptionError{"RateLimit.Burst", fmt.Errorf("invalid burst '%d': use a whole number of at least 1", o.RateLimit.Burst)}
		}
		rl = &policy.RateLimit{Rate: o.RateLimit.Rate, Burst: o.RateLimit.Burst}
	}

	now = now.UTC().Truncate(time.Second)
	expires := now.Add(lifetime)
	return policy.KeyRecord{
		ID:           o.ID,
		Description:  o.Description,
		Owner:        o.Owner,
		Scopes:       dedupe(o.Scopes),
		AllowedCIDRs: dedupe(cidrs),
		IPException:  o.IPException,
		CreatedAt:    now,
		UpdatedAt:    now,
		ExpiresAt:    &expires,
		RateLimit:    rl,
		Status:       policy.KeyActive,
	}, nil
}

// Create adds a new active key as of now and returns its token, which is
// stored nowhere: the keys file gets only its hash. Create rejects an id
// that exists in the file, whatever its status, because key ids are never
// reused.
func (s *Store) Create(opts CreateOptions, now time.Time) (token string, ch Change, err error) {
	rec, err := opts.record(now)
	if err != nil {
		return "", Change{}, err
	}

	token, err = policy.NewToken(rec.ID)
	if err != nil {
		return "", Change{}, err
	}
	rec.Secrets = []policy.SecretHash{{
		Hash:      policy.FormatHash(policy.HashToken(token)),
		CreatedAt: rec.CreatedAt,
	}}

	err = s.update(false, func(f *policy.KeysFile) (bool, error) {
		if i := findKey(f, rec.ID); i >= 0 {
			return false, existsError(s.Path, &f.Keys[i])
		}
		f.Keys = append(f.Keys, rec)
		return true, nil
	})
	if err != nil {
		return "", Change{}, err
	}
	return token, Change{Kind: ChangeCreated, KeyID: rec.ID, At: rec.CreatedAt}, nil
}

func existsError(path string, k *policy.KeyRecord) error {
	if k.Status == policy.KeyRevoked {
		return fmt.Errorf("key '%s' %w in '%s' as a revoked key: choose another id, because ids are never reused", k.ID, ErrKeyExists, path)
	}
	return fmt.Errorf("key '%s' %w in '%s': choose another id, or give the key a new token with 'awragate keys rotate %s'", k.ID, ErrKeyExists, path, k.ID)
}

// dedupe returns list without repeated entries, keeping the first of each.
func dedupe(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
