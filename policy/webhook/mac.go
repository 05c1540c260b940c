package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// MaxSecrets is the most secrets one Verifier accepts. A delivery that
// matches none costs one HMAC pass over the body per secret, so the bound
// caps the work a forged delivery causes. Two are enough for a rotation.
const MaxSecrets = 4

// macKey computes HMACs under one secret. hmac.New allocates and hashes
// the key on every call, so keyed states are kept in a pool and Reset
// before reuse.
type macKey struct {
	size int
	pool sync.Pool
}

// macState is one pooled HMAC with buffers that keep Write and Sum from
// allocating.
type macState struct {
	h       hash.Hash
	sum     [sha512.Size]byte
	scratch []byte
}

func newMACKey(algorithm func() hash.Hash, key []byte) *macKey {
	keyCopy := append([]byte(nil), key...)
	m := &macKey{size: algorithm().Size()}
	m.pool.New = func() any {
		return &macState{h: hmac.New(algorithm, keyCopy), scratch: make([]byte, 0, 64)}
	}
	return m
}

func (m *macKey) get() *macState {
	s := m.pool.Get().(*macState)
	s.h.Reset()
	return s
}

func (m *macKey) put(s *macState) { m.pool.Put(s) }

// writeString writes str without converting it to a new []byte.
func (s *macState) writeString(str string) {
	s.scratch = append(s.scratch[:0], str...)
	s.h.Write(s.scratch)
}

// writeTemplate writes the signed string that parts describe.
func (s *macState) writeTemplate(parts []templatePart, stamp, id string, body []byte) {
	for _, p := range parts {
		switch p.kind {
		case partLiteral:
			s.h.Write(p.literal)
		case partTimestamp:
			s.writeString(stamp)
		case partID:
			s.writeString(id)
		case partBody:
			s.h.Write(body)
		}
	}
}

// candidates are the decoded signatures of one delivery, any of which may
// match.
type candidates struct {
	sums [maxCandidates][sha512.Size]byte
	n    int
}

// maxCandidates is the most signatures of one kind read from a header. A
// rotation needs two.
const maxCandidates = 8

// next returns the buffer for the next signature of size bytes, or nil when
// the list is full. The caller calls commit after filling it.
func (c *candidates) next(size int) []byte {
	if c.n == maxCandidates {
		return nil
	}
	return c.sums[c.n][:size]
}

func (c *candidates) commit() { c.n++ }

// matchSecret returns the index of the first key whose HMAC of the signed
// string equals one of the candidates, or -1. Every comparison is in
// constant time, and all candidates have the MAC's length by construction.
func matchSecret(keys []*macKey, parts []templatePart, stamp, id string, body []byte, cands *candidates) int {
	for i, k := range keys {
		st := k.get()
		st.writeTemplate(parts, stamp, id, body)
		mac := st.h.Sum(st.sum[:0])

		found := false
		for j := 0; j < cands.n; j++ {
			if hmac.Equal(mac, cands.sums[j][:len(mac)]) {
				found = true
			}
		}
		k.put(st)
		if found {
			return i
		}
	}
	return -1
}

// computeMAC returns the HMAC of the signed string under k, for signing.
func computeMAC(k *macKey, parts []templatePart, stamp, id string, body []byte) []byte {
	st := k.get()
	defer k.put(st)
	st.writeTemplate(parts, stamp, id, body)
	return st.h.Sum(nil)
}

// checkSecrets rejects secret lists that would leave a verifier open or
// that are surely a configuration mistake. Errors name a secret by its
// position, never by its value.
func checkSecrets(secrets []string) error {
	if len(secrets) == 0 {
		return fmt.Errorf("no secret is configured: set at least one")
	}
	if len(secrets) > MaxSecrets {
		return fmt.Errorf("%d secrets are configured: use at most %d", len(secrets), MaxSecrets)
	}
	for i, s := range secrets {
		if s == "" {
			return fmt.Errorf("secret %d is empty: set it (an unset environment variable gives an empty secret)", i+1)
		}
		if strings.TrimSpace(s) != s {
			return fmt.Errorf("secret %d has leading or trailing whitespace: remove it", i+1)
		}
	}
	return nil
}

// rawKeys builds one macKey per secret, using its bytes as the key.
func rawKeys(secrets []string, algorithm func() hash.Hash) ([]*macKey, error) {
	if err := checkSecrets(secrets); err != nil {
		return nil, err
	}
	keys := make([]*macKey, len(secrets))
	for i, s := range secrets {
		keys[i] = newMACKey(algorithm, []byte(s))
	}
	return keys, nil
}

// hashByName maps the algorithm names of HMACOptions to constructors.
var hashByName = map[string]func() hash.Hash{
	"sha256": sha256.New,
	"sha512": sha512.New,
}
