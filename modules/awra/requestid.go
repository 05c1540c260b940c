package awra

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// Request ids are a random per-process prefix and a counter: unique across
// instances and restarts with overwhelming probability, ordered within a
// process, and cheap enough for every request (one small allocation).
var (
	requestIDPrefix  = newRequestIDPrefix()
	requestIDCounter atomic.Uint64
)

func newRequestIDPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}

func newRequestID() string {
	var buf [32]byte
	out := append(buf[:0], requestIDPrefix...)
	out = strconv.AppendUint(out, requestIDCounter.Add(1), 36)
	return string(out)
}
