//go:build unix

package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockPollInterval is the pause between two attempts to take a busy lock.
const lockPollInterval = 20 * time.Millisecond

// fileLock is an exclusive flock(2) on a lock file. flock locks belong to
// the open file description, so two goroutines that each open the lock
// file exclude each other just as two processes do.
type fileLock struct {
	f *os.File
}

// lockFile opens (creating it with mode 0600 if needed) and locks path,
// polling until timeout. The lock file is never removed: removing it would
// let a waiting process lock an unlinked file while a new one locks the new
// file, and both would edit the keys file at once.
func lockFile(path string, timeout time.Duration) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		return nil, fmt.Errorf("opening lock file '%s': the directory '%s' does not exist: create it first (mkdir -p '%s')", path, dir, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("opening lock file '%s': %w", path, err)
	}

	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &fileLock{f: f}, nil
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking '%s': %w", path, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("timed out after %s waiting for lock file '%s': another 'awragate keys' command holds it, so retry when that command has finished", timeout, path)
		}
		time.Sleep(lockPollInterval)
	}
}

// unlock releases the lock. Closing the file releases it too, so an error
// from LOCK_UN is not reported separately.
func (l *fileLock) unlock() error {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	return l.f.Close()
}

// keepOwner gives the new file tmp the owner and group of the file it
// replaces, so that a gateway running as another user keeps read access
// when root edits the keys file. It does nothing when the owner is already
// right.
func keepOwner(tmp *os.File, old os.FileInfo) error {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	info, err := tmp.Stat()
	if err != nil {
		return err
	}
	if cur, ok := info.Sys().(*syscall.Stat_t); ok && cur.Uid == st.Uid && cur.Gid == st.Gid {
		return nil
	}
	if err := tmp.Chown(int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("giving the new keys file the owner %d:%d of the old one: %w", st.Uid, st.Gid, err)
	}
	return nil
}
