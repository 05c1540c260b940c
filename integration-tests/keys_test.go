package integrationtests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

// testKey is an API key generated for one test: the token a client sends
// and the record the keys file stores. Tests change Record before writing
// the file to make the key revoked, expired, narrower and so on.
type testKey struct {
	ID     string
	Token  string
	Record policy.KeyRecord
}

// newTestKey creates an active key with a fresh random token, valid for a
// day from 127.0.0.0/8 and ::1. scopes defaults to inventory:read. The
// token is registered for the leak scans.
func newTestKey(t testing.TB, id string, scopes ...string) *testKey {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{"inventory:read"}
	}
	token := newToken(t, id)

	now := time.Now().UTC().Truncate(time.Second)
	expires := now.Add(24 * time.Hour)
	return &testKey{
		ID:    id,
		Token: token,
		Record: policy.KeyRecord{
			ID:           id,
			Description:  "integration test key",
			Owner:        "integration-tests",
			Scopes:       scopes,
			AllowedCIDRs: []string{"127.0.0.0/8", "::1/128"},
			CreatedAt:    now,
			ExpiresAt:    &expires,
			Status:       policy.KeyActive,
			Secrets: []policy.SecretHash{{
				Hash:      policy.FormatHash(policy.HashToken(token)),
				CreatedAt: now,
			}},
		},
	}
}

// newToken returns a fresh token for keyID that no keys file stores, for
// tests of unknown keys and wrong secrets. It is registered for the leak
// scans.
func newToken(t testing.TB, keyID string) string {
	t.Helper()
	token, err := policy.NewToken(keyID)
	if err != nil {
		t.Fatalf("policy.NewToken(%q): %v", keyID, err)
	}
	watchToken(keyID, token)
	return token
}

// writeKeysFile writes the keys as a version 1 keys file at path.
func writeKeysFile(t testing.TB, path string, keys ...*testKey) {
	t.Helper()
	f := policy.KeysFile{Version: policy.KeysFileVersion, Keys: []policy.KeyRecord{}}
	for _, k := range keys {
		f.Keys = append(f.Keys, k.Record)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatalf("encoding the keys file: %v", err)
	}
	writeFileAtomic(t, path, data)
}

// writeFileAtomic replaces path with data the way editors and the keys CLI
// do: write a temporary file in the same directory, then rename it over
// path, so a reader sees either the old or the new content.
func writeFileAtomic(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*.tmp")
	if err != nil {
		t.Fatalf("writing '%s': %v", path, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		t.Fatalf("writing '%s': %v", tmp.Name(), firstError(werr, cerr))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		t.Fatalf("renaming '%s' to '%s': %v", tmp.Name(), path, err)
	}
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
