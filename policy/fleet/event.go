package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/awra/awragate/policy"
)

// EventVersion is the "v" of every event this package writes.
const EventVersion = 1

// maxEventSize bounds the events ParseEvent reads.
const maxEventSize = 1024

// Op is the kind of change an event reports.
type Op string

// Event operations.
const (
	// OpKey: the record of a key changed at revision Rev and now has
	// status Status. Sent on KeysChannel.
	OpKey Op = "key"

	// OpQuarantine: the key was quarantined. Sent on QuarantineChannel.
	OpQuarantine Op = "quarantine"

	// OpLift: the key's quarantine was lifted. Sent on
	// QuarantineChannel.
	OpLift Op = "lift"
)

// Event is one pub/sub message about a key. It never holds a token or a
// hash.
type Event struct {
	V        int              `json:"v"`
	Op       Op               `json:"op"`
	KeyID    string           `json:"key_id"`
	Rev      int64            `json:"rev,omitempty"`
	Status   policy.KeyStatus `json:"status,omitempty"`
	Instance string           `json:"instance,omitempty"`
}

// Denies reports whether the event puts the key in a state that rejects
// its requests, so a cache can apply it without reading Redis.
func (e Event) Denies() bool {
	return e.Op == OpKey && (e.Status == policy.KeyRevoked || e.Status == policy.KeySuspended)
}

// Encode returns the event as JSON.
func (e Event) Encode() []byte {
	data, _ := json.Marshal(e) // an Event always encodes
	return data
}

// ParseEvent decodes and checks an event from a channel. Unknown fields
// are ignored so that newer gateways can add some; a wrong version,
// operation, key id, status or revision is an error.
func ParseEvent(data []byte) (Event, error) {
	if len(data) > maxEventSize {
		return Event{}, fmt.Errorf("invalid fleet event: %d bytes, at most %d", len(data), maxEventSize)
	}
	var e Event
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("invalid fleet event: %w", err)
	}
	if dec.More() {
		return Event{}, fmt.Errorf("invalid fleet event: unexpected data after the JSON object")
	}
	if e.V != EventVersion {
		return Event{}, fmt.Errorf("invalid fleet event: version %d, this gateway reads version %d", e.V, EventVersion)
	}
	if !policy.ValidKeyID(e.KeyID) {
		return Event{}, fmt.Errorf("invalid fleet event: invalid key id '%s'", printable(e.KeyID))
	}
	switch e.Op {
	case OpKey:
		if e.Rev < 1 {
			return Event{}, fmt.Errorf("invalid fleet event: revision %d of key '%s' is not positive", e.Rev, e.KeyID)
		}
		switch e.Status {
		case policy.KeyActive, policy.KeySuspended, policy.KeyRevoked:
		default:
			return Event{}, fmt.Errorf("invalid fleet event: invalid status '%s' of key '%s'", printable(string(e.Status)), e.KeyID)
		}
	case OpQuarantine, OpLift:
	default:
		return Event{}, fmt.Errorf("invalid fleet event: unknown operation '%s'", printable(string(e.Op)))
	}
	return e, nil
}

// printable shortens s and replaces bytes outside printable ASCII, so
// that a hostile message cannot forge log lines.
func printable(s string) string {
	const maxLen = 64
	b := make([]byte, 0, min(len(s), maxLen))
	for i := 0; i < len(s) && len(b) < maxLen; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b = append(b, c)
	}
	return string(b)
}
