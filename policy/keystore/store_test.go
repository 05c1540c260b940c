package keystore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newStore returns a Store on a keys file in a fresh directory. The file
// does not exist yet.
func newStore(t *testing.T) *Store {
	t.Helper()
	return &Store{Path: filepath.Join(t.TempDir(), "keys.json")}
}

// validOptions returns options that Create accepts.
func validOptions(id string) CreateOptions {
	return CreateOptions{
		ID:           id,
		Scopes:       []string{"inventory:read"},
		AllowedCIDRs: []string{"10.0.0.0/8"},
	}
}

// mustCreate creates key id and returns its token.
func mustCreate(t *testing.T, s *Store, id string) string {
	t.Helper()
	token, _, err := s.Create(validOptions(id), t0)
	if err != nil {
		t.Fatalf("Create(%q) error: %v", id, err)
	}
	return token
}

func mustLoad(t *testing.T, s *Store) *policy.KeysFile {
	t.Helper()
	f, err := s.Load()
	if err != nil {
		t.Fatalf("Load() error: %v", err)
	}
	return f
}

func TestLoadMissingFile(t *testing.T) {
	s := newStore(t)
	_, err := s.Load()
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load() = %v, want an error matching fs.ErrNotExist", err)
	}
	for _, want := range []string{s.Path, "does not exist", "awragate keys create --file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load() error = %q, want it to contain %q", err, want)
		}
	}
}

func TestLoadInvalidFile(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "EOF"},
		{"not json", "keys", "invalid character"},
		{"wrong version", `{"version":2,"keys":[]}`, "unsupported version 2"},
		{"unknown field", `{"version":1,"keys":[],"extra":1}`, "unknown field"},
		{"invalid key", `{"version":1,"keys":[{"id":"Bad"}]}`, "field 'id'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if err := os.WriteFile(s.Path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "invalid keys file") {
				t.Errorf("Load() = %v, want an 'invalid keys file' error containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadEmptyPath(t *testing.T) {
	_, err := (&Store{}).Load()
	if !errors.Is(err, errNoPath) {
		t.Errorf("Load() with empty path = %v, want errNoPath", err)
	}
	if err := (&Store{}).Update(func(*policy.KeysFile) error { return nil }); !errors.Is(err, errNoPath) {
		t.Errorf("Update() with empty path = %v, want errNoPath", err)
	}
}

func TestUpdateCreatesFile(t *testing.T) {
	s := newStore(t)
	err := s.Update(func(f *policy.KeysFile) error {
		if f.Version != policy.KeysFileVersion || len(f.Keys) != 0 {
			t.Errorf("Update on a missing file got %+v, want an empty file of version %d", f, policy.KeysFileVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update() error: %v", err)
	}
	f := mustLoad(t, s)
	if len(f.Keys) != 0 {
		t.Errorf("len(Keys) = %d, want 0", len(f.Keys))
	}
}

func TestUpdateFileMode(t *testing.T) {
	s := newStore(t)
	// A file that was readable by all must become 0600 on the next edit.
	if err := os.WriteFile(s.Path, []byte(`{"version":1,"keys":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "a")

	info, err := os.Stat(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("mode of keys file = %o, want 600", got)
	}
	info, err = os.Stat(s.Path + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("mode of lock file = %o, want 600", got)
	}
}

// dirEntries lists the names in dir other than the keys file and its lock.
func strayFiles(t *testing.T, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(s.Path))
	if err != nil {
		t.Fatal(err)
	}
	var stray []string
	for _, e := range entries {
		name := e.Name()
		if name != filepath.Base(s.Path) && name != filepath.Base(s.Path)+".lock" {
			stray = append(stray, name)
		}
	}
	return stray
}

func TestUpdateLeavesNoTempFiles(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "a")
	if _, _, err := s.Rotate("a", time.Hour, t0); err != nil {
		t.Fatal(err)
	}
	// A rejected edit must not leave its temporary file behind either.
	err := s.Update(func(f *policy.KeysFile) error {
		f.Keys[0].Scopes = []string{"bad"}
		return nil
	})
	if err == nil {
		t.Fatal("Update() with an invalid scope succeeded, want an error")
	}
	if stray := strayFiles(t, s); len(stray) != 0 {
		t.Errorf("files left beside the keys file = %v, want none", stray)
	}
}

func TestUpdateRejectsInvalidResult(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "a")
	before, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		change func(*policy.KeysFile)
		want   string
	}{
		{"bad scope", func(f *policy.KeysFile) { f.Keys[0].Scopes = []string{"inventory"} }, "invalid scope 'inventory'"},
		{"no networks", func(f *policy.KeysFile) { f.Keys[0].AllowedCIDRs = nil }, "allowed_cidrs"},
		{"no expiry", func(f *policy.KeysFile) { f.Keys[0].ExpiresAt = nil }, "expires_at"},
		{"no secrets", func(f *policy.KeysFile) { f.Keys[0].Secrets = nil }, "secrets"},
		{"duplicate id", func(f *policy.KeysFile) { f.Keys = append(f.Keys, f.Keys[0]) }, "duplicate"},
		{"wrong version", func(f *policy.KeysFile) { f.Version = 7 }, "unsupported version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(func(f *policy.KeysFile) error {
				tt.change(f)
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "nothing was written") {
				t.Errorf("Update() = %v, want a 'nothing was written' error containing %q", err, tt.want)
			}
			after, err := os.ReadFile(s.Path)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != string(before) {
				t.Errorf("keys file changed after a rejected edit")
			}
		})
	}
}

func TestUpdateChangeError(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "a")
	before, _ := os.ReadFile(s.Path)

	errStop := errors.New("stop")
	err := s.Update(func(f *policy.KeysFile) error {
		f.Keys = nil
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Errorf("Update() = %v, want the change's error", err)
	}
	after, _ := os.ReadFile(s.Path)
	if string(after) != string(before) {
		t.Errorf("keys file changed although the change failed")
	}
}

func TestUpdateLockTimeout(t *testing.T) {
	s := newStore(t)
	s.LockTimeout = 100 * time.Millisecond

	held, err := lockFile(s.Path+".lock", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer held.unlock()

	start := time.Now()
	_, _, err = s.Create(validOptions("a"), t0)
	if err == nil {
		t.Fatal("Create() while another edit holds the lock succeeded, want a timeout")
	}
	for _, want := range []string{"timed out", s.Path + ".lock"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Create() error = %q, want it to contain %q", err, want)
		}
	}
	if waited := time.Since(start); waited < s.LockTimeout {
		t.Errorf("Create() gave up after %s, want at least the lock timeout %s", waited, s.LockTimeout)
	}
	if _, err := os.Stat(s.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("keys file exists after a timed-out create: stat error %v", err)
	}
}

func TestUpdateWaitsForLock(t *testing.T) {
	s := newStore(t)
	held, err := lockFile(s.Path+".lock", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(150 * time.Millisecond)
		held.unlock()
	}()
	if _, _, err := s.Create(validOptions("a"), t0); err != nil {
		t.Errorf("Create() after the lock was released = %v, want success", err)
	}
}

func TestUpdateThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.json")
	link := filepath.Join(dir, "keys.json")
	s := &Store{Path: real}
	mustCreate(t, s, "a")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}

	viaLink := &Store{Path: link}
	mustCreate(t, viaLink, "b")

	info, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("keys file symlink was replaced by a regular file")
	}
	if got := len(mustLoad(t, s).Keys); got != 2 {
		t.Errorf("keys in the link's target = %d, want 2", got)
	}
}

func TestUpdateMissingDirectory(t *testing.T) {
	s := &Store{Path: filepath.Join(t.TempDir(), "absent", "keys.json")}
	_, _, err := s.Create(validOptions("a"), t0)
	if err == nil || !strings.Contains(err.Error(), "lock file") {
		t.Errorf("Create() in a missing directory = %v, want an error about the lock file", err)
	}
}

func TestFileHoldsNoToken(t *testing.T) {
	s := newStore(t)
	token := mustCreate(t, s, "a")
	rotated, _, err := s.Rotate("a", time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := policy.ParseToken(token)
	_, secret2, _ := policy.ParseToken(rotated)
	for _, s := range []string{token, secret, rotated, secret2} {
		if strings.Contains(string(data), s) {
			t.Fatal("keys file contains a token or its secret")
		}
	}
}

func TestLockFileMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := lockFile(filepath.Join(dir, "keys.json.lock"), time.Second)
	if err == nil {
		t.Fatal("lockFile() in a missing directory succeeded, want an error")
	}
	for _, want := range []string{"'" + dir + "' does not exist", "mkdir -p"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("lockFile() error = %q, want it to contain %q", err, want)
		}
	}
}
