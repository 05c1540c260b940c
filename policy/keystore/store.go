// Package keystore reads and edits the API keys file that the gateway
// watches. Every edit takes an exclusive lock, re-reads the file, validates
// the whole result as the gateway would, and replaces the file atomically,
// so concurrent edits from goroutines or processes on one host lose nothing
// and the gateway never reads a half-written file.
//
// The package imports nothing from Caddy and takes the current time as a
// parameter.
package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/awra/awragate/policy"
)

// DefaultLockTimeout is the maximum time an edit waits for another edit
// of the same keys file to finish.
const DefaultLockTimeout = 10 * time.Second

var errNoPath = errors.New("keys file path is empty: give the path of the keys file")

// fileMode is the permission of a written keys file. The file holds only
// token hashes, but it also lists who may call what and from where.
const fileMode = 0o600

// Store edits the keys file at Path. A Store holds no state between calls,
// so one value may be shared: its methods are safe for concurrent use by
// goroutines and by processes on the same host.
//
// NOTE: flock(2) does not exclude processes on different hosts that share
// the file over NFS, so edit a shared keys file from one host only.
type Store struct {
	// Path is the keys file. The lock file is Path + ".lock", beside it.
	// If Path is a symbolic link, edits replace the file it points to.
	Path string

	// LockTimeout is the maximum time an edit waits for the lock. Zero
	// means DefaultLockTimeout.
	LockTimeout time.Duration
}

// Load reads and validates the keys file at path. See Store.Load.
func Load(path string) (*policy.KeysFile, error) {
	return (&Store{Path: path}).Load()
}

// Update applies change to the keys file at path under the lock. See
// Store.Update.
func Update(path string, change func(*policy.KeysFile) error) error {
	return (&Store{Path: path}).Update(change)
}

// Load reads and validates the keys file without taking the lock: edits
// replace the file in one rename, so Load reads either the old or the new
// file. A missing file is an error that satisfies errors.Is(err,
// fs.ErrNotExist) and tells how to create the file.
func (s *Store) Load() (*policy.KeysFile, error) {
	f, _, err := s.read()
	return f, err
}

// Update takes the lock, re-reads the keys file, calls change on it,
// validates the whole result with policy.ParseKeysFile and writes it
// atomically: a temporary file in the same directory with mode 0600,
// fsync, rename over the keys file, fsync of the directory. A missing keys
// file is created: change then receives an empty file of the current
// version. If change returns an error, nothing is written and Update
// returns that error.
func (s *Store) Update(change func(*policy.KeysFile) error) error {
	return s.update(false, func(f *policy.KeysFile) (bool, error) {
		return true, change(f)
	})
}

// update is Update with two options: mustExist rejects a missing keys file,
// and change reports whether it changed anything, so that a request for the
// state a key already has writes nothing.
func (s *Store) update(mustExist bool, change func(*policy.KeysFile) (bool, error)) error {
	path, err := s.resolvePath()
	if err != nil {
		return err
	}

	lock, err := lockFile(path+".lock", s.lockTimeout())
	if err != nil {
		return err
	}
	defer lock.unlock()

	// Read again under the lock: another edit may have finished while this
	// one waited.
	f, old, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) && !mustExist {
		f, err = &policy.KeysFile{Version: policy.KeysFileVersion}, nil
	}
	if err != nil {
		return err
	}

	changed, err := change(f)
	if err != nil {
		return err
	}
	if !changed {
		return nil
	}

	data, err := encode(f)
	if err != nil {
		return err
	}
	return writeAtomic(path, data, old)
}

func (s *Store) lockTimeout() time.Duration {
	if s.LockTimeout > 0 {
		return s.LockTimeout
	}
	return DefaultLockTimeout
}

// resolvePath follows a symbolic link at Path, so that the rename replaces
// the file it points to rather than the link.
func (s *Store) resolvePath() (string, error) {
	if s.Path == "" {
		return "", errNoPath
	}
	path, err := filepath.EvalSymlinks(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return s.Path, nil
	}
	if err != nil {
		return "", fmt.Errorf("resolving keys file '%s': %w", s.Path, err)
	}
	return path, nil
}

func (s *Store) read() (*policy.KeysFile, os.FileInfo, error) {
	if s.Path == "" {
		return nil, nil, errNoPath
	}
	return readFile(s.Path)
}

// notExistError reports a missing keys file and how to create one.
type notExistError struct {
	path string
}

func (e *notExistError) Error() string {
	return fmt.Sprintf("keys file '%s' does not exist: create it with 'awragate keys create --file %s --id ID --scope RESOURCE:ACTION --cidr NETWORK'", e.path, e.path)
}

func (e *notExistError) Unwrap() error { return fs.ErrNotExist }

// readFile reads and parses path. It also returns the file's FileInfo, so
// that a rewrite can keep its owner.
func readFile(path string) (*policy.KeysFile, os.FileInfo, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, &notExistError{path: path}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading keys file: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading keys file: %w", err)
	}

	f, err := policy.ParseKeysFile(data)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid keys file '%s': %w; fix the file by hand before editing it with 'awragate keys'", path, err)
	}
	return f, info, nil
}

// encode renders f as indented JSON and checks the bytes with the parser
// the gateway uses, so that no edit can write a file the gateway rejects.
func encode(f *policy.KeysFile) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encoding keys file: %w", err)
	}

	if _, err := policy.ParseKeysFile(buf.Bytes()); err != nil {
		return nil, fmt.Errorf("the edit would leave an invalid keys file, so nothing was written: %w", err)
	}
	return buf.Bytes(), nil
}

// writeAtomic replaces path with data. old is the FileInfo of the file being
// replaced, or nil when there is none.
func writeAtomic(path string, data []byte, old os.FileInfo) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating a temporary file beside the keys file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	// CreateTemp already uses 0600, but Chmod keeps the mode independent
	// of that detail.
	if err := tmp.Chmod(fileMode); err != nil {
		return fmt.Errorf("setting the mode of '%s': %w", tmp.Name(), err)
	}
	if old != nil {
		if err := keepOwner(tmp, old); err != nil {
			return err
		}
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("writing '%s': %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing '%s': %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing '%s': %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing keys file '%s': %w", path, err)
	}

	// The rename is durable only once the directory entry is on disk.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory '%s' to sync the rename: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory '%s' after replacing the keys file, so the edit may not survive a crash: %w", dir, err)
	}
	return nil
}
