package keyscli

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/keystore"
)

// Flag defaults, as typed on the command line.
const (
	// DefaultExpiresIn is the default --expires-in of create.
	DefaultExpiresIn = "90d"

	// DefaultGrace is the default --grace of rotate: how long the old
	// token keeps working after a rotation.
	DefaultGrace = "24h"
)

// CreateArgs holds the flags of 'awragate keys create' as typed.
type CreateArgs struct {
	File string
	ID   string

	// Scopes and CIDRs hold one entry per --scope and --cidr flag.
	Scopes []string
	CIDRs  []string

	// ExpiresIn is the key's lifetime: whole days ("90d") or a Go duration
	// ("36h"). It must be more than zero and at most 3650 days.
	ExpiresIn string

	// Rate is "N/s", "N/m" or "N/h", and empty means no per-key limit.
	// Burst defaults to the request count of one period of Rate.
	Rate  string
	Burst string

	Owner       string
	Description string
	IPException string
}

// flagOfField maps the fields of keystore.CreateOptions to the flags that
// set them.
var flagOfField = map[string]string{
	"ID":              "--id",
	"Scopes":          "--scope",
	"AllowedCIDRs":    "--cidr",
	"ExpiresIn":       "--expires-in",
	"RateLimit.Rate":  "--rate",
	"RateLimit.Burst": "--burst",
}

// options checks the flags and turns them into keystore options. Each
// error names the flag, the value and the fix.
func (a *CreateArgs) options() (keystore.CreateOptions, error) {
	var o keystore.CreateOptions
	switch {
	case a.ID == "":
		return o, errors.New("missing --id: name the key with 1 to 64 characters of a-z, 0-9 and '-', for example --id inventory-sync")
	case len(a.Scopes) == 0:
		return o, errors.New("missing --scope: grant at least one scope, for example --scope inventory:read")
	case len(a.CIDRs) == 0:
		return o, errors.New("missing --cidr: give the networks the key may be used from, for example --cidr 203.0.113.0/24; to allow every address, give --cidr 0.0.0.0/0 --cidr ::/0 and the reason with --ip-exception")
	}

	lifetime, err := ParseLifetime(a.ExpiresIn)
	if err != nil {
		return o, fmt.Errorf("--expires-in: %w", err)
	}
	if lifetime <= 0 || lifetime > keystore.MaxExpiresIn {
		return o, fmt.Errorf("--expires-in: invalid lifetime '%s': every key expires, so use more than zero and at most %s, for example 90d", a.ExpiresIn, formatLifetime(keystore.MaxExpiresIn))
	}

	rl, _, err := parseRateLimit(a.Rate, a.Burst)
	if err != nil {
		return o, err
	}

	for _, t := range []struct{ flag, text string }{
		{"--owner", a.Owner}, {"--description", a.Description}, {"--ip-exception", a.IPException},
	} {
		if err := checkText(t.flag, t.text); err != nil {
			return o, err
		}
	}

	o = keystore.CreateOptions{
		ID:           a.ID,
		Scopes:       a.Scopes,
		AllowedCIDRs: a.CIDRs,
		IPException:  a.IPException,
		ExpiresIn:    lifetime,
		RateLimit:    rl,
		Owner:        a.Owner,
		Description:  a.Description,
	}
	if err := o.Validate(); err != nil {
		return o, flagError(err)
	}
	return o, nil
}

// flagError prefixes a keystore.OptionError with the flag that set the
// field.
func flagError(err error) error {
	var oe *keystore.OptionError
	if errors.As(err, &oe) {
		if flag, ok := flagOfField[oe.Field]; ok {
			return fmt.Errorf("%s: %w", flag, err)
		}
	}
	return err
}

// Create adds a key to the keys file and writes its token, and nothing
// else, as one line on standard output. Notes and warnings about broad
// grants go to standard error.
func (r *Runner) Create(a CreateArgs) error {
	s, err := r.store(a.File)
	if err != nil {
		return err
	}
	defer s.Close()
	opts, err := a.options()
	if err != nil {
		return err
	}

	token, ch, err := s.Create(opts, r.now())
	if err != nil {
		return flagError(err)
	}
	if err := r.writeToken(token, ch.KeyID); err != nil {
		return err
	}

	k, err := s.Get(ch.KeyID)
	if err != nil {
		return fmt.Errorf("created key '%s', but reading it back failed: %w", ch.KeyID, err)
	}
	r.notef("created key '%s' in %s, expiring at %s; store the token now, because it is shown only once", k.ID, s.Location(), formatTime(*k.ExpiresAt))
	if k.RateLimit != nil && a.Burst == "" {
		r.notef("rate limit %s with a burst of %d, one period's requests; set it with --burst", k.RateLimit.Rate, k.RateLimit.Burst)
	}
	r.warnBroad(k)
	return nil
}

// writeToken writes the token line. If that fails, the key exists with a
// token that no one received, so the error tells how to get a new one.
func (r *Runner) writeToken(token, id string) error {
	if _, err := fmt.Fprintln(r.Stdout, token); err != nil {
		return fmt.Errorf("writing the token of key '%s' to standard output failed (%v): give the key a new token with 'awragate keys rotate %s --grace 0'", id, err, id)
	}
	return nil
}

// warnBroad warns about the grants that the security review flags.
func (r *Runner) warnBroad(k *policy.KeyRecord) {
	for _, s := range k.Scopes {
		if policy.IsBroadScope(s) {
			r.notef("warning: scope '%s' contains a wildcard, so the security review flags it as broad", s)
		}
	}
	if k.IPException != "" {
		return
	}
	for _, c := range k.AllowedCIDRs {
		p, err := netip.ParsePrefix(c)
		if err == nil && policy.IsEveryAddress(p) {
			r.notef("warning: network '%s' admits every address; the security review flags the key unless --ip-exception gives the reason", c)
		}
	}
}

// Rotate gives key id a new token and writes it, and nothing else, as one
// line on standard output. grace is the old token's remaining life, as
// ParseLifetime reads it. "0" ends the old token at once, and the maximum
// is keystore.MaxRotationGrace.
func (r *Runner) Rotate(file, id, grace string) error {
	s, err := r.store(file)
	if err != nil {
		return err
	}
	defer s.Close()
	g, err := ParseLifetime(grace)
	if err != nil {
		return fmt.Errorf("--grace: %w", err)
	}
	if g > keystore.MaxRotationGrace {
		return fmt.Errorf("--grace: invalid grace period '%s': use at most %s, or 0 to end the old token at once", grace, formatLifetime(keystore.MaxRotationGrace))
	}

	token, ch, err := s.Rotate(id, g, r.now())
	if err != nil {
		return err
	}
	if err := r.writeToken(token, id); err != nil {
		return err
	}

	if g == 0 {
		r.notef("rotated key '%s'; the old token stops working when the gateway reloads %s", id, s.Location())
	} else {
		r.notef("rotated key '%s'; the old token keeps working until %s at the latest", id, formatTime(ch.At.Add(g)))
	}
	r.notef("store the new token now, because it is shown only once")
	return nil
}
