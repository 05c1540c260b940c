package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/awra/awragate/policy"
)

// maxStoredKeySize bounds one stored record: far above a real key, far
// below what would hurt a gateway that reads every record.
const maxStoredKeySize = 64 << 10

// StoredKey is one key record in the registry hash with the revision of
// its last edit.
type StoredKey struct {
	Rev    int64            `json:"rev"`
	Record policy.KeyRecord `json:"record"`
}

// ParseStoredKey decodes and validates the value stored for key id: a
// positive revision and a record that passes the checks of a keys file
// and carries the same id. Unknown fields are errors, as in a keys file.
func ParseStoredKey(id string, data []byte) (StoredKey, error) {
	if len(data) > maxStoredKeySize {
		return StoredKey{}, fmt.Errorf("stored key '%s': %d bytes, at most %d", printable(id), len(data), maxStoredKeySize)
	}
	var sk StoredKey
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sk); err != nil {
		return StoredKey{}, fmt.Errorf("stored key '%s': %w", printable(id), err)
	}
	if dec.More() {
		return StoredKey{}, fmt.Errorf("stored key '%s': unexpected data after the JSON object", printable(id))
	}
	if sk.Rev < 1 {
		return StoredKey{}, fmt.Errorf("stored key '%s': revision %d is not positive", printable(id), sk.Rev)
	}
	if sk.Record.ID != id {
		return StoredKey{}, fmt.Errorf("stored key '%s': the record has id '%s'", printable(id), printable(sk.Record.ID))
	}
	if err := sk.Record.Validate(); err != nil {
		return StoredKey{}, fmt.Errorf("stored key '%s': %w", printable(id), err)
	}
	return sk, nil
}

// encodeRecord returns the record as the JSON that the edit script wraps
// into a stored value.
func encodeRecord(rec *policy.KeyRecord) (string, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return "", fmt.Errorf("encoding key '%s': %w", rec.ID, err)
	}
	return string(data), nil
}
