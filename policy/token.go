package policy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// An API key token has the form "awra_<key id>_<secret>". The fixed prefix
// lets secret scanners find leaked tokens and the key id gives an O(1)
// lookup in the registry.
const (
	TokenPrefix = "awra_"

	// MaxKeyIDLength is the longest key id accepted.
	MaxKeyIDLength = 64

	// MinSecretLength is the shortest secret part accepted in a token.
	MinSecretLength = 32

	// GeneratedSecretLength is the length of the secrets that NewToken
	// creates: 43 base62 characters carry about 256 bits.
	GeneratedSecretLength = 43

	// maxSecretLength bounds the work done on a token from a request.
	maxSecretLength = 256

	// HashPrefix starts every stored token hash.
	HashPrefix = "sha256:"
)

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Byte classes of tokens, looked up in tokenChars: every request parses a
// token, and a table lookup per byte is cheaper than ranges of compares.
const (
	keyIDChar  = 1 << iota // a-z, 0-9 and '-'
	base62Char             // a-z, A-Z and 0-9
)

var tokenChars = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = keyIDChar | base62Char
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = keyIDChar | base62Char
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = base62Char
	}
	t['-'] = keyIDChar
	return t
}()

// allOf reports whether every byte of s is in class.
func allOf(s string, class uint8) bool {
	for i := 0; i < len(s); i++ {
		if tokenChars[s[i]]&class == 0 {
			return false
		}
	}
	return true
}

// IsTokenByte reports whether c may appear in a token after its prefix:
// a key id character, a base62 character or the '_' between the two.
func IsTokenByte(c byte) bool {
	return c == '_' || tokenChars[c] != 0
}

// ValidKeyID reports whether id is 1 to 64 characters of a-z, 0-9 and '-'.
func ValidKeyID(id string) bool {
	return len(id) > 0 && len(id) <= MaxKeyIDLength && allOf(id, keyIDChar)
}

// ParseToken splits a token into its key id and secret. It returns ok=false
// for anything that is not exactly "awra_<id>_<secret>" with a valid id and a
// base62 secret of 32 to 256 characters. The key id cannot contain '_', so
// the first '_' after the prefix ends it. ParseToken does not allocate.
func ParseToken(token string) (keyID, secret string, ok bool) {
	if len(token) <= len(TokenPrefix) || token[:len(TokenPrefix)] != TokenPrefix {
		return "", "", false
	}
	rest := token[len(TokenPrefix):]

	sep := strings.IndexByte(rest[:min(len(rest), MaxKeyIDLength+1)], '_')
	if sep <= 0 {
		return "", "", false
	}

	keyID, secret = rest[:sep], rest[sep+1:]
	if !ValidKeyID(keyID) || len(secret) < MinSecretLength || len(secret) > maxSecretLength || !allOf(secret, base62Char) {
		return "", "", false
	}
	return keyID, secret, true
}

// HashToken returns the SHA-256 digest of the whole token. The registry
// stores this digest, never the token.
func HashToken(token string) [sha256.Size]byte {
	// Copying into a stack buffer avoids the heap allocation of a
	// []byte conversion for every token of a valid length.
	var buf [len(TokenPrefix) + MaxKeyIDLength + 1 + maxSecretLength]byte
	if len(token) <= len(buf) {
		n := copy(buf[:], token)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(token))
}

// FormatHash renders a digest the way the keys file stores it:
// "sha256:" followed by 64 lower-case hex digits.
func FormatHash(sum [sha256.Size]byte) string {
	return HashPrefix + hex.EncodeToString(sum[:])
}

// ParseHash reads a stored "sha256:<hex>" digest.
func ParseHash(s string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if len(s) != len(HashPrefix)+2*sha256.Size || s[:len(HashPrefix)] != HashPrefix {
		return sum, errors.New("must be 'sha256:' followed by 64 hex digits")
	}
	if _, err := hex.Decode(sum[:], []byte(s[len(HashPrefix):])); err != nil {
		return sum, fmt.Errorf("must be 'sha256:' followed by 64 hex digits: %w", err)
	}
	return sum, nil
}

// NewToken creates a token for keyID with a fresh random secret from
// crypto/rand. Show it to the user once and store only HashToken of it.
func NewToken(keyID string) (string, error) {
	if !ValidKeyID(keyID) {
		return "", fmt.Errorf("invalid key id '%s': use 1 to %d characters of a-z, 0-9 and '-'", keyID, MaxKeyIDLength)
	}

	// Rejection sampling keeps every base62 character equally likely:
	// bytes of 248 and above would favour the first eight characters.
	secret := make([]byte, 0, GeneratedSecretLength)
	buf := make([]byte, 64)
	for len(secret) < GeneratedSecretLength {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			secret = append(secret, base62Alphabet[b%62])
			if len(secret) == GeneratedSecretLength {
				break
			}
		}
	}
	return TokenPrefix + keyID + "_" + string(secret), nil
}
