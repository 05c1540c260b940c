package webhook

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/awra/awragate/policy"
)

// Result is the outcome of Verify. Only Reason and Detail are set when the
// delivery is rejected, except that a timestamp_out_of_tolerance rejection
// also carries the Timestamp that was read.
type Result struct {
	// Reason is policy.ReasonNone when the delivery passed. Otherwise it
	// is one of:
	//   - policy.ReasonSignatureMissing: a header the scheme needs
	//     (signature, timestamp or id) is absent or empty.
	//   - policy.ReasonSignatureInvalid: a header is sent more than once,
	//     a header is malformed (a timestamp that is not 10 or 13 digits
	//     included), or no secret produces a matching signature.
	//   - policy.ReasonTimestampOutOfTolerance: the signature matches but
	//     the timestamp is outside the window, or is 13 digits of
	//     milliseconds. Only a sender holding a secret gets this reason.
	Reason policy.Reason

	// Detail is a short public explanation for the problem+json body. It
	// names the header and the expected format, never a secret, an
	// expected signature or which byte of a signature differed.
	Detail string

	// Timestamp is the signed send time, or zero for schemes without one.
	Timestamp time.Time

	// EventID is the signed message id ("standard", and "hmac" with an
	// IDHeader), or "".
	EventID string

	// SecretIndex is the index in Config.Secrets of the secret that
	// matched. It is meaningful only when Reason is empty and lets the
	// audit show when an old secret stops being used after a rotation.
	SecretIndex int

	// ReplayKey identifies the exact signed bytes of a timestamped
	// delivery (stripe, slack, standard, and hmac with a TimestampHeader):
	// it hashes the provider, the signed timestamp and id, and the SHA-256
	// of the body, which together determine the signed bytes. It is zero
	// for schemes without a timestamp, whose replays can be caught only as
	// duplicates.
	ReplayKey Digest

	// ReplayExpires is Timestamp plus the tolerance: after it, Verify
	// rejects these signed bytes by their timestamp, so the replay store
	// need not keep ReplayKey longer. Zero when ReplayKey is zero.
	ReplayExpires time.Time

	// DuplicateKey identifies the event: for "standard" a hash of the
	// signed message id, for every other provider a hash of the body.
	DuplicateKey Digest
}

// OK reports whether the delivery passed.
func (r Result) OK() bool { return r.Reason == policy.ReasonNone }

// Digest is a SHA-256 value used as a replay or duplicate key.
type Digest [sha256.Size]byte

// IsZero reports whether d is unset.
func (d Digest) IsZero() bool { return d == Digest{} }

// String returns d as 64 lower-case hex digits, ready for use in a Redis
// key.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Domain-separation labels, so that a replay key can never equal a
// duplicate key and the two kinds of duplicate key never collide.
const (
	replayLabel        = "awragate/webhook/replay/v1"
	duplicateBodyLabel = "awragate/webhook/duplicate-body/v1"
	duplicateIDLabel   = "awragate/webhook/duplicate-id/v1"
)

func deny(reason policy.Reason, detail string) Result {
	return Result{Reason: reason, Detail: detail}
}

// signedFields are the parts of a delivery, besides the body, that the
// matching signature covered.
type signedFields struct {
	stamp string    // timestamp text as sent, "" if the scheme has none
	at    time.Time // stamp parsed
	id    string    // message id, "" if the scheme has none
}

// accepted builds the Result of a delivery whose signature matched
// Secrets[secret] and whose timestamp was checked.
func accepted(provider string, secret int, body []byte, f signedFields, tolerance time.Duration, duplicateByID bool) Result {
	bodySum := sha256.Sum256(body)
	r := Result{SecretIndex: secret, EventID: f.id}

	if duplicateByID {
		r.DuplicateKey = deriveDigest(duplicateIDLabel, provider, "", f.id, nil)
	} else {
		r.DuplicateKey = deriveDigest(duplicateBodyLabel, provider, "", "", &bodySum)
	}

	if f.stamp != "" {
		r.Timestamp = f.at
		r.ReplayExpires = f.at.Add(tolerance)
		r.ReplayKey = deriveDigest(replayLabel, provider, f.stamp, f.id, &bodySum)
	}
	return r
}

// deriveDigest hashes the length-prefixed fields, so that no two different
// inputs give the same byte string.
func deriveDigest(label, provider, stamp, id string, bodySum *[sha256.Size]byte) Digest {
	var buf [512]byte
	b := buf[:0]
	b = appendField(b, label)
	b = appendField(b, provider)
	b = appendField(b, stamp)
	b = appendField(b, id)
	if bodySum != nil {
		b = append(b, bodySum[:]...)
	}
	return sha256.Sum256(b)
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
