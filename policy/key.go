package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// KeyStatus is the administrative state of a key.
type KeyStatus string

// Key states. Only an active key is accepted. A suspended key can be
// resumed; a revoked key stays revoked.
const (
	KeyActive    KeyStatus = "active"
	KeySuspended KeyStatus = "suspended"
	KeyRevoked   KeyStatus = "revoked"
)

// KeysFileVersion is the schema version written to new keys files.
const KeysFileVersion = 1

// KeysFile is the JSON document stored at the app's keys_file.
type KeysFile struct {
	Version int         `json:"version"`
	Keys    []KeyRecord `json:"keys"`
}

// KeyRecord is one API key as stored in the keys file. It holds hashes of
// the key's tokens, never a token.
type KeyRecord struct {
	ID          string `json:"id"`
	Description string `json:"description,omitempty"`
	Owner       string `json:"owner,omitempty"`

	// Scopes granted to the key, each "resource:action". Either part may
	// be "*".
	Scopes []string `json:"scopes"`

	// AllowedCIDRs lists the networks the key may be used from. At least
	// one is required; a key open to every address lists 0.0.0.0/0 and
	// ::/0 outright.
	AllowedCIDRs []string `json:"allowed_cidrs"`

	// IPException explains why a key is open to every address. The
	// security review accepts a broad allowlist only with a reason.
	IPException string `json:"ip_exception,omitempty"`

	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at,omitempty"`
	ExpiresAt *time.Time `json:"expires_at"`

	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	Status    KeyStatus  `json:"status"`

	// Secrets holds the hashes of the key's tokens: one normally, two
	// during a rotation's grace period.
	Secrets []SecretHash `json:"secrets"`
}

// SecretHash is the stored digest of one token of a key.
type SecretHash struct {
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`

	// NotAfter ends the token's validity before the key's own expiry.
	// Rotation sets it on the old token to the end of the grace period.
	NotAfter *time.Time `json:"not_after,omitempty"`
}

// RateLimit is a key's token bucket: Rate requests per Per, with bursts
// of up to Burst requests.
type RateLimit struct {
	// Rate is written as "N/s", "N/m" or "N/h", for example "20/s".
	Rate  string `json:"rate"`
	Burst int    `json:"burst"`
}

// PerSecond returns the rate limit as requests per second.
func (rl RateLimit) PerSecond() (float64, error) {
	return ParseRate(rl.Rate)
}

// ParseRate reads a rate written as "N/s", "N/m" or "N/h" (N a positive
// number) and returns it in requests per second.
func ParseRate(s string) (float64, error) {
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("invalid rate '%s': write it as N/s, N/m or N/h, for example 20/s", s)
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || !(n > 0 && n <= 1e9) { // the negated form also rejects NaN
		return 0, fmt.Errorf("invalid rate '%s': N must be a positive number, for example 20/s", s)
	}
	switch unit {
	case "s":
		return n, nil
	case "m":
		return n / 60, nil
	case "h":
		return n / 3600, nil
	}
	return 0, fmt.Errorf("invalid rate '%s': the unit must be s, m or h, for example 20/s", s)
}

// ParseKeysFile decodes a keys file strictly: unknown fields, trailing data
// and invalid keys are errors that name the key and the field.
func ParseKeysFile(data []byte) (*KeysFile, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()

	var f KeysFile
	if err := dec.Decode(&f); err != nil {
		if where := locateDecodeError(data); where != "" {
			return nil, fmt.Errorf("decoding keys file: %s: %w", where, err)
		}
		return nil, fmt.Errorf("decoding keys file: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decoding keys file: unexpected data after the JSON document")
	}
	if f.Version != KeysFileVersion {
		return nil, fmt.Errorf("keys file: unsupported version %d: this gateway reads version %d", f.Version, KeysFileVersion)
	}

	seen := make(map[string]int, len(f.Keys))
	for i := range f.Keys {
		k := &f.Keys[i]
		if err := k.Validate(); err != nil {
			if k.ID == "" || !ValidKeyID(k.ID) {
				return nil, fmt.Errorf("keys file: key #%d: %w", i+1, err)
			}
			return nil, fmt.Errorf("keys file: key '%s': %w", k.ID, err)
		}
		if first, dup := seen[k.ID]; dup {
			return nil, fmt.Errorf("keys file: key '%s': field 'id': duplicate of key #%d; every key id must be unique", k.ID, first+1)
		}
		seen[k.ID] = i
	}
	return &f, nil
}

// locateDecodeError finds the key whose record fails strict decoding, so
// that an unknown or mistyped field is reported with the key that holds
// it. It returns "" when the document is not even loosely valid JSON or no
// single key is at fault.
func locateDecodeError(data []byte) string {
	var loose struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(data, &loose) != nil {
		return ""
	}
	for i, raw := range loose.Keys {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		var rec KeyRecord
		if dec.Decode(&rec) == nil {
			continue
		}
		var named struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &named) == nil && ValidKeyID(named.ID) {
			return fmt.Sprintf("key '%s'", named.ID)
		}
		return fmt.Sprintf("key #%d", i+1)
	}
	return ""
}

// Validate checks one record and returns an error naming the field at fault.
func (k *KeyRecord) Validate() error {
	if !ValidKeyID(k.ID) {
		return fmt.Errorf("field 'id': invalid value '%s': use 1 to %d characters of a-z, 0-9 and '-'", k.ID, MaxKeyIDLength)
	}

	switch k.Status {
	case KeyActive, KeySuspended, KeyRevoked:
	case "":
		return fmt.Errorf("field 'status' is missing: use active, suspended or revoked")
	default:
		return fmt.Errorf("field 'status': invalid value '%s': use active, suspended or revoked", k.Status)
	}

	if k.ExpiresAt == nil || k.ExpiresAt.IsZero() {
		return fmt.Errorf("field 'expires_at' is missing: every key needs an expiry (RFC 3339 time)")
	}

	if len(k.Scopes) == 0 {
		return fmt.Errorf("field 'scopes' is empty: grant at least one scope such as inventory:read")
	}
	for _, s := range k.Scopes {
		if err := ValidateScope(s); err != nil {
			return fmt.Errorf("field 'scopes': %w", err)
		}
	}

	if len(k.AllowedCIDRs) == 0 {
		return fmt.Errorf("field 'allowed_cidrs' is empty: list at least one network; a key open to every address lists 0.0.0.0/0 and ::/0")
	}
	for _, c := range k.AllowedCIDRs {
		if _, err := ParseCIDR(c); err != nil {
			return fmt.Errorf("field 'allowed_cidrs': %w", err)
		}
	}

	if k.RateLimit != nil {
		if _, err := k.RateLimit.PerSecond(); err != nil {
			return fmt.Errorf("field 'rate_limit.rate': %w", err)
		}
		if k.RateLimit.Burst < 1 {
			return fmt.Errorf("field 'rate_limit.burst': invalid value %d: use a whole number of at least 1", k.RateLimit.Burst)
		}
	}

	if len(k.Secrets) == 0 {
		return fmt.Errorf("field 'secrets' is empty: create or rotate the key with 'awragate keys' to store a token hash")
	}
	for i, s := range k.Secrets {
		if _, err := ParseHash(s.Hash); err != nil {
			return fmt.Errorf("field 'secrets[%d].hash': %w", i, err)
		}
	}
	return nil
}
