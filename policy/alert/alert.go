// Package alert notifies security admins of attempts to use a credential
// from outside its allowed networks. A gateway reports every such denial
// as a Bypass to a Notifier, which never blocks the request path: it
// groups the denials per (key, reason, source network), shares the groups
// and their cooldown between instances through Redis, and delivers one
// Alert per group and cooldown. Delivery goes to a webhook signed the
// Standard Webhooks way, with retries, backoff and a dead-letter stream,
// and to a Redis channel.
//
// The package imports nothing from Caddy. Alerts hold key ids, owners,
// addresses and networks, never a token, secret or hash.
package alert

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"time"

	"github.com/awra/awragate/policy"
)

// Kind is the type of an alert.
type Kind string

// Kinds of alerts.
const (
	// KindBypass reports denials of a credential used from outside its
	// allowed networks.
	KindBypass Kind = "bypass"

	// KindQuarantine reports that a key was quarantined after too many
	// such denials.
	KindQuarantine Kind = "quarantine"
)

// Bypass is one denial of a request whose client address lies outside
// the networks its credential allows.
type Bypass struct {
	// Module is the audit module of the handler that denied: "api_key"
	// or "webhook".
	Module string

	// Reason is policy.ReasonIPNotAllowed or
	// policy.ReasonSourceIPNotAllowed.
	Reason policy.Reason

	// KeyID is the API key id, or for a webhook route "webhook:" and the
	// provider name.
	KeyID string

	// Owner is the key's owner, empty when unknown.
	Owner string

	// ClientIP is the client address the gateway resolved.
	ClientIP netip.Addr

	// Allowed lists the networks the credential may be used from.
	Allowed []netip.Prefix

	// At is the time of the denial.
	At time.Time
}

// Group identifies the denials that share one alert: the same key and
// reason from the same source network.
type Group struct {
	KeyID   string
	Reason  policy.Reason
	Network netip.Prefix
}

// GroupOf returns the group of b.
func GroupOf(b Bypass) Group {
	return Group{KeyID: b.KeyID, Reason: b.Reason, Network: SourceNetwork(b.ClientIP)}
}

// String returns the group as "key|reason|network", the form stored in
// Redis keys.
func (g Group) String() string {
	return g.KeyID + "|" + string(g.Reason) + "|" + g.Network.String()
}

// SourceNetwork returns the network that groups addr's denials: the /24
// of an IPv4 address and the /64 of an IPv6 address, because one attacker
// usually holds a whole such network. An IPv4-mapped IPv6 address counts
// as IPv4. An invalid address returns the zero Prefix.
func SourceNetwork(addr netip.Addr) netip.Prefix {
	if !addr.IsValid() {
		return netip.Prefix{}
	}
	addr = addr.Unmap().WithZone("")
	bits := 64
	if addr.Is4() {
		bits = 24
	}
	p, _ := addr.Prefix(bits)
	return p
}

// Alert is the message sent to security admins, as JSON in the webhook
// body and on the Redis channel.
type Alert struct {
	// ID is unique per alert and stays the same on every delivery
	// attempt; it is sent as webhook-id so that receivers can ignore
	// duplicates.
	ID   string `json:"id"`
	Kind Kind   `json:"type"`

	Module string        `json:"module"`
	Reason policy.Reason `json:"reason"`
	KeyID  string        `json:"key_id"`
	Owner  string        `json:"owner,omitempty"`

	// ClientIP is the last client address seen in the group.
	ClientIP      string `json:"client_ip,omitempty"`
	SourceNetwork string `json:"source_network,omitempty"`

	// AllowedNetworks lists the networks the key may be used from.
	AllowedNetworks []string `json:"allowed_networks"`

	// Count is the number of denials since the group's previous alert,
	// on every instance. For a quarantine alert it is the number of
	// denials in the quarantine window.
	Count int64 `json:"count"`

	// Total is the number of denials since the group started, which
	// ends when the group sees no denial for two cooldowns.
	Total int64 `json:"total,omitempty"`

	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`

	// Instance is the gateway instance that sent the alert.
	Instance string `json:"instance"`

	// Quarantined is set on quarantine alerts.
	Quarantined bool `json:"quarantined,omitempty"`

	// QuarantineWindow is the window of the quarantine rule, such as
	// "10m0s", on quarantine alerts.
	QuarantineWindow string `json:"quarantine_window,omitempty"`

	CreatedAt time.Time `json:"created_at"`
}

// newAlertID returns "alert_" and 24 random hex digits.
func newAlertID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return "alert_" + hex.EncodeToString(b[:])
}

// prefixStrings formats networks for an alert.
func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
