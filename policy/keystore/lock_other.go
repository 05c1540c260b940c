//go:build !unix

package keystore

import (
	"errors"
	"os"
	"time"
)

type fileLock struct{}

// lockFile always fails: the keys file is locked with flock(2), which only
// unix systems have.
func lockFile(path string, timeout time.Duration) (*fileLock, error) {
	return nil, errors.New("editing a keys file needs flock(2), which this operating system does not have: run 'awragate keys' on Linux or another unix system")
}

func (l *fileLock) unlock() error { return nil }

func keepOwner(tmp *os.File, old os.FileInfo) error { return nil }
