package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"unsafe"
)

// Chain keys shorter than MinChainKeyLen bytes are rejected. Keys of at
// least RecommendedChainKeyLen random bytes give HMAC-SHA256 its full
// strength.
const (
	MinChainKeyLen         = 16
	RecommendedChainKeyLen = 32
)

// checkChainKey returns an error naming the fix when key is too short. It
// never includes the key.
func checkChainKey(key []byte) error {
	if len(key) < MinChainKeyLen {
		return fmt.Errorf("audit chain key is too short (%d bytes, expected at least %d): set chain_key to %d or more random bytes",
			len(key), MinChainKeyLen, RecommendedChainKeyLen)
	}
	return nil
}

// Canonical returns the canonical form of the event, the bytes its hash
// covers after prev_hash. For each field of FieldNames except prev_hash and
// hash, in that order, it holds
//
//	name ":" len ":" value "\n"
//
// where len is the byte length of the stream value in decimal. Because every
// value is length-prefixed, no value can contain text that reads as another
// field, so two different events never share a canonical form.
func (e *Event) Canonical() []byte {
	v := e.values()
	return appendCanonical(nil, &v)
}

// ComputeHash returns the chain link of e: the lower-case hex of
// HMAC-SHA256 keyed with chainKey over e.PrevHash followed by
// e.Canonical(). PrevHash is "" for the first event of an instance (seq 1)
// and otherwise the 64 hex digits of the previous event's Hash. Canonical
// forms start with "v:", which is not hex, so the two parts cannot be
// confused. ComputeHash ignores e.Hash.
func ComputeHash(chainKey []byte, e *Event) string {
	v := e.values()
	return newChainHasher(chainKey).sum(&v)
}

func appendCanonical(buf []byte, v *fieldValues) []byte {
	for i := 0; i < canonicalFields; i++ {
		buf = append(buf, FieldNames[i]...)
		buf = append(buf, ':')
		buf = strconv.AppendInt(buf, int64(len(v[i])), 10)
		buf = append(buf, ':')
		buf = append(buf, v[i]...)
		buf = append(buf, '\n')
	}
	return buf
}

// chainHasher computes chain links with one reusable HMAC state. It is not
// safe for concurrent use.
type chainHasher struct {
	mac hash.Hash
	buf []byte
	out [sha256.Size]byte

	links [2][hashLen]byte // the last two links of sumShared
	next  int              // index into links of the next link
}

func newChainHasher(key []byte) *chainHasher {
	return &chainHasher{mac: hmac.New(sha256.New, key)}
}

// sum returns the hex link over v's prev_hash and canonical form.
func (h *chainHasher) sum(v *fieldValues) string {
	return strings.Clone(h.sumShared(v))
}

// sumShared is sum without allocating: the string it returns shares
// memory with the hasher, and the second call after this one overwrites
// it. The writer uses each link only until it has computed the next one,
// which names it as prev_hash.
func (h *chainHasher) sumShared(v *fieldValues) string {
	h.buf = append(h.buf[:0], v[fieldPrevHash]...)
	h.buf = appendCanonical(h.buf, v)
	h.mac.Reset()
	h.mac.Write(h.buf)
	link := &h.links[h.next]
	h.next ^= 1
	hex.Encode(link[:], h.mac.Sum(h.out[:0]))
	return unsafe.String(&link[0], len(link))
}

// equal reports whether the hex link want matches v's content, comparing
// the decoded MACs in constant time.
func (h *chainHasher) equal(v *fieldValues, want string) bool {
	if !isLowerHex(want, hashLen) {
		return false
	}
	got, err := hex.DecodeString(want)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	h.buf = append(h.buf[:0], v[fieldPrevHash]...)
	h.buf = appendCanonical(h.buf, v)
	h.mac.Reset()
	h.mac.Write(h.buf)
	return hmac.Equal(h.mac.Sum(h.out[:0]), got)
}
