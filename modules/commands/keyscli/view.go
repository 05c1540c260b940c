package keyscli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/awra/awragate/policy"
)

// keyView is a key as list and show print it: the stored record without
// its secret hashes, plus the status the gateway acts on.
type keyView struct {
	ID           string            `json:"id"`
	Description  string            `json:"description,omitempty"`
	Owner        string            `json:"owner,omitempty"`
	Scopes       []string          `json:"scopes"`
	AllowedCIDRs []string          `json:"allowed_cidrs"`
	IPException  string            `json:"ip_exception,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	ExpiresAt    *time.Time        `json:"expires_at"`
	RateLimit    *policy.RateLimit `json:"rate_limit,omitempty"`
	Status       policy.KeyStatus  `json:"status"`

	// EffectiveStatus is Status, or "expired" for an active key past
	// expires_at.
	EffectiveStatus string `json:"effective_status"`

	// LastRotation is the creation time of the newest token if the key
	// was rotated, and nil otherwise.
	LastRotation *time.Time `json:"last_rotation,omitempty"`

	Secrets []secretView `json:"secrets"`
}

// secretView describes one token of a key without its hash.
type secretView struct {
	CreatedAt time.Time  `json:"created_at"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
}

// newKeyView copies the fields that may be shown. Copying field by field,
// rather than embedding the record, keeps a hash from reaching the output
// if the record gains a field.
func newKeyView(k *policy.KeyRecord, now time.Time) keyView {
	v := keyView{
		ID:              k.ID,
		Description:     k.Description,
		Owner:           k.Owner,
		Scopes:          k.Scopes,
		AllowedCIDRs:    k.AllowedCIDRs,
		IPException:     k.IPException,
		CreatedAt:       k.CreatedAt,
		UpdatedAt:       k.UpdatedAt,
		ExpiresAt:       k.ExpiresAt,
		RateLimit:       k.RateLimit,
		Status:          k.Status,
		EffectiveStatus: effectiveStatus(k, now),
		Secrets:         make([]secretView, 0, len(k.Secrets)),
	}
	for _, s := range k.Secrets {
		v.Secrets = append(v.Secrets, secretView{CreatedAt: s.CreatedAt, NotAfter: s.NotAfter})
		if s.CreatedAt.After(k.CreatedAt) && (v.LastRotation == nil || s.CreatedAt.After(*v.LastRotation)) {
			created := s.CreatedAt
			v.LastRotation = &created
		}
	}
	return v
}

// List writes the keys of the file as a table sorted by id, or with
// asJSON as a JSON array of records without secret hashes.
func (r *Runner) List(file string, asJSON bool) error {
	s, err := r.store(file)
	if err != nil {
		return err
	}
	defer s.Close()
	f, err := s.Load()
	if err != nil {
		return err
	}

	now := r.now()
	views := make([]keyView, 0, len(f.Keys))
	for i := range f.Keys {
		views = append(views, newKeyView(&f.Keys[i], now))
	}
	slices.SortFunc(views, func(a, b keyView) int { return strings.Compare(a.ID, b.ID) })

	if asJSON {
		return writeJSON(r.Stdout, views)
	}
	if len(views) == 0 {
		r.notef("no keys in %s; add one with 'awragate keys create'", s.Location())
	}
	return writeTable(r.Stdout, views)
}

func writeTable(w io.Writer, views []keyView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tOWNER\tSCOPES\tCIDRS\tEXPIRES\tLAST ROTATION")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			v.ID,
			v.EffectiveStatus,
			orDash(printable(v.Owner)),
			printable(strings.Join(v.Scopes, ",")),
			printable(strings.Join(v.AllowedCIDRs, ",")),
			formatOptionalTime(v.ExpiresAt),
			formatOptionalTime(v.LastRotation),
		)
	}
	return tw.Flush()
}

// Show writes one key's details, without secret hashes, as text or with
// asJSON as a JSON object.
func (r *Runner) Show(file, id string, asJSON bool) error {
	s, err := r.store(file)
	if err != nil {
		return err
	}
	defer s.Close()
	k, err := s.Get(id)
	if err != nil {
		return err
	}

	now := r.now()
	v := newKeyView(k, now)
	if asJSON {
		return writeJSON(r.Stdout, v)
	}

	rate := "none"
	if v.RateLimit != nil {
		rate = fmt.Sprintf("%s, burst %d", printable(v.RateLimit.Rate), v.RateLimit.Burst)
	}
	lines := [][2]string{
		{"id", v.ID},
		{"status", v.EffectiveStatus},
		{"owner", orDash(printable(v.Owner))},
		{"description", orDash(printable(v.Description))},
		{"scopes", printable(strings.Join(v.Scopes, ", "))},
		{"allowed_cidrs", printable(strings.Join(v.AllowedCIDRs, ", "))},
		{"ip_exception", orDash(printable(v.IPException))},
		{"created_at", formatTime(v.CreatedAt)},
		{"updated_at", formatTime(v.UpdatedAt)},
		{"expires_at", formatOptionalTime(v.ExpiresAt)},
		{"rate_limit", rate},
		{"last_rotation", formatOptionalTime(v.LastRotation)},
	}
	for i, sec := range v.Secrets {
		text := "created " + formatTime(sec.CreatedAt)
		switch {
		case sec.NotAfter == nil:
		case sec.NotAfter.After(now):
			text += ", valid until " + formatTime(*sec.NotAfter)
		default:
			text += ", ended " + formatTime(*sec.NotAfter)
		}
		lines = append(lines, [2]string{fmt.Sprintf("token %d", i+1), text})
	}

	tw := tabwriter.NewWriter(r.Stdout, 0, 0, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "%s:\t%s\n", l[0], l[1])
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func formatOptionalTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return formatTime(*t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printable replaces control characters with '?', because a hand-edited
// keys file could hold a tab that breaks the table or an escape sequence
// that the terminal would run.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == unicode.ReplacementChar {
			return '?'
		}
		return r
	}, s)
}
