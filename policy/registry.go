package policy

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Key is a compiled, read-only view of a KeyRecord: scopes, allowlist and
// hashes are parsed once so that Authenticate only looks things up.
type Key struct {
	ID     string
	Record KeyRecord

	// ScopesHeader is the sorted, comma-separated list of granted scopes
	// sent upstream in X-Awra-Scopes.
	ScopesHeader string

	// Limiter is the key's local token bucket, or nil when the key has no
	// rate limit. It is carried over to the next registry when a reload
	// keeps the key's limit unchanged, so a reload does not refill it.
	Limiter *rate.Limiter

	expiresAt time.Time
	scopes    ScopeSet
	allow     *Allowlist
	secrets   []compiledSecret
}

type compiledSecret struct {
	sum      [sha256.Size]byte
	notAfter time.Time // zero: valid until the key expires
}

// Registry is an immutable set of compiled keys. Build a new Registry for
// every change and swap it in atomically; a Registry is safe for
// concurrent use.
type Registry struct {
	keys map[string]*Key
}

// NewRegistry compiles a parsed keys file. When prev is not nil, keys whose
// rate limit did not change keep their limiter from prev.
func NewRegistry(f *KeysFile, prev *Registry) (*Registry, error) {
	reg := &Registry{keys: make(map[string]*Key, len(f.Keys))}
	for i := range f.Keys {
		rec := f.Keys[i]
		k, err := compileKey(rec)
		if err != nil {
			return nil, fmt.Errorf("key '%s': %w", rec.ID, err)
		}
		if k.Limiter != nil && prev != nil {
			if old, ok := prev.keys[rec.ID]; ok && old.Limiter != nil && sameRateLimit(old.Record.RateLimit, rec.RateLimit) {
				k.Limiter = old.Limiter
			}
		}
		reg.keys[rec.ID] = k
	}
	return reg, nil
}

func sameRateLimit(a, b *RateLimit) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func compileKey(rec KeyRecord) (*Key, error) {
	if err := rec.Validate(); err != nil {
		return nil, err
	}

	allow, err := NewAllowlist(rec.AllowedCIDRs)
	if err != nil {
		return nil, fmt.Errorf("field 'allowed_cidrs': %w", err)
	}

	scopes := append([]string(nil), rec.Scopes...)
	sort.Strings(scopes)

	k := &Key{
		ID:           rec.ID,
		Record:       rec,
		ScopesHeader: strings.Join(scopes, ","),
		expiresAt:    *rec.ExpiresAt,
		scopes:       NewScopeSet(rec.Scopes),
		allow:        allow,
	}
	for _, s := range rec.Secrets {
		sum, _ := ParseHash(s.Hash) // checked by Validate
		cs := compiledSecret{sum: sum}
		if s.NotAfter != nil {
			cs.notAfter = *s.NotAfter
		}
		k.secrets = append(k.secrets, cs)
	}

	if rec.RateLimit != nil {
		perSecond, _ := rec.RateLimit.PerSecond() // checked by Validate
		k.Limiter = rate.NewLimiter(rate.Limit(perSecond), rec.RateLimit.Burst)
	}
	return k, nil
}

// Lookup returns the key with the given id.
func (reg *Registry) Lookup(id string) (*Key, bool) {
	k, ok := reg.keys[id]
	return k, ok
}

// Len returns the number of keys.
func (reg *Registry) Len() int { return len(reg.keys) }

// Keys returns the compiled keys sorted by id.
func (reg *Registry) Keys() []*Key {
	out := make([]*Key, 0, len(reg.keys))
	for _, k := range reg.keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// AuthRequest is what Authenticate judges: the presented token, the
// client's address as the gateway resolved it, and the scopes the route
// requires.
type AuthRequest struct {
	Token    string
	ClientIP netip.Addr
	Required []Scope
	Now      time.Time
}

// AuthResult is the outcome of Authenticate. Key is set whenever the token
// named a known key, even on a denial, so the denial can be audited with
// the key id; KeyID is the id the token claimed.
type AuthResult struct {
	Reason  Reason
	KeyID   string
	Key     *Key
	Missing Scope
}

// Allowed reports whether the request may pass.
func (r AuthResult) Allowed() bool { return r.Reason == ReasonNone }

// dummySum is compared against when a token names no known key, so that an
// unknown key id costs the same work as a wrong secret.
var dummySum = sha256.Sum256([]byte("awra_unknown_key_comparison_target"))

// Authenticate checks a token against the registry in this order: format,
// key id and secret hash (constant-time), status, expiry, client address,
// scopes. The address check comes before scopes because a key used from
// outside its networks is an attack signal whatever the route.
// Authenticate does not allocate and does not touch the rate limiter.
func (reg *Registry) Authenticate(req AuthRequest) AuthResult {
	id, _, ok := ParseToken(req.Token)
	if !ok {
		return AuthResult{Reason: ReasonKeyInvalid}
	}

	sum := HashToken(req.Token)
	k, known := reg.keys[id]
	if !known {
		subtle.ConstantTimeCompare(sum[:], dummySum[:])
		return AuthResult{Reason: ReasonKeyInvalid, KeyID: id}
	}

	match := 0
	for i := range k.secrets {
		s := &k.secrets[i]
		eq := subtle.ConstantTimeCompare(sum[:], s.sum[:])
		if eq == 1 && (s.notAfter.IsZero() || req.Now.Before(s.notAfter)) {
			match = 1
		}
	}
	if match != 1 {
		return AuthResult{Reason: ReasonKeyInvalid, KeyID: id, Key: k}
	}

	res := AuthResult{KeyID: id, Key: k}
	switch k.Record.Status {
	case KeyRevoked:
		res.Reason = ReasonKeyRevoked
		return res
	case KeySuspended:
		res.Reason = ReasonKeySuspended
		return res
	}
	if !req.Now.Before(k.expiresAt) {
		res.Reason = ReasonKeyExpired
		return res
	}
	if !k.allow.Contains(req.ClientIP) {
		res.Reason = ReasonIPNotAllowed
		return res
	}
	if missing, ok := k.scopes.HasAll(req.Required); !ok {
		res.Reason = ReasonScopeMissing
		res.Missing = missing
		return res
	}
	return res
}

// AllowedNetworks returns the key's allowlist.
func (k *Key) AllowedNetworks() []netip.Prefix { return k.allow.Prefixes() }

// ExpiresAt returns the key's expiry.
func (k *Key) ExpiresAt() time.Time { return k.expiresAt }
