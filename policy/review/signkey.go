package review

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// PEM block types of the review signing keys: PKCS #8 for the private
// key and PKIX for the public key, the forms `openssl pkey` reads.
const (
	privateKeyPEM = "PRIVATE KEY"
	publicKeyPEM  = "PUBLIC KEY"
)

// GenerateSigningKey returns a new Ed25519 key pair in PEM, reading
// randomness from rand.
func GenerateSigningKey(rand io.Reader) (privatePEM, publicPEM []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("generating an Ed25519 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: privateKeyPEM, Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: publicKeyPEM, Bytes: pubDER}), nil
}

// WriteKeyPair writes a new key pair to prefix.key (mode 0600) and
// prefix.pub (mode 0644). It fails without writing when either exists.
func WriteKeyPair(prefix string, rand io.Reader) (keyPath, pubPath string, err error) {
	keyPath, pubPath = prefix+".key", prefix+".pub"
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("'%s' already exists: choose another --out prefix or remove the old key pair", p)
		}
	}
	priv, pub, err := GenerateSigningKey(rand)
	if err != nil {
		return "", "", err
	}
	if err := writeNewFile(keyPath, priv); err != nil {
		return "", "", err
	}
	if err := writeNewFile(pubPath, pub); err != nil {
		os.Remove(keyPath)
		return "", "", err
	}
	if err := os.Chmod(pubPath, 0o644); err != nil {
		return "", "", fmt.Errorf("setting the mode of '%s': %w", pubPath, err)
	}
	return keyPath, pubPath, nil
}

// ParsePrivateKey reads an Ed25519 private key in PKCS #8 PEM, as
// WriteKeyPair writes it. Errors never contain key material.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode([]byte(strings.TrimSpace(string(data))))
	if block == nil || block.Type != privateKeyPEM || len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("the signing key is not one PEM block of type PRIVATE KEY: use the content of the .key file that 'awragate review keygen' wrote")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("the signing key is not a valid PKCS #8 private key")
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("the signing key is not an Ed25519 key")
	}
	return priv, nil
}

// ParsePublicKey reads an Ed25519 public key in PKIX PEM, as
// WriteKeyPair writes it.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != publicKeyPEM {
		return nil, errors.New("the public key is not a PEM block of type PUBLIC KEY: use the .pub file that 'awragate review keygen' wrote")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the public key is not a valid PKIX public key: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("the public key is not an Ed25519 key")
	}
	return pub, nil
}

// KeyFingerprint returns the hex SHA-256 of pub in PKIX DER form.
func KeyFingerprint(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
