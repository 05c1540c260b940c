package awra

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/awra/awragate/policy"
	"github.com/awra/awragate/policy/audit"
)

const defaultKeysPollInterval = 500 * time.Millisecond

// keyStores shares one watched registry per keys file across overlapping
// configurations: on a reload the new config provisions before the old one
// cleans up, and both must see the same registry.
var keyStores = caddy.NewUsagePool()

// keyStore holds the current registry of one keys file and a goroutine that
// polls the file and swaps in a new registry when its content changes.
// Requests read the registry through an atomic pointer and never wait.
type keyStore struct {
	path     string
	interval time.Duration
	logger   *zap.Logger

	reg atomic.Pointer[policy.Registry]

	// audit receives an admin event for every key change a reload brings.
	audit atomic.Pointer[audit.Pipeline]

	// Written only by the poll goroutine (and the constructor before it).
	lastSum  [sha256.Size]byte
	lastStat fileStamp

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// fileStamp detects a change without reading the file: an editor or the
// CLI replaces the file by rename, which changes the inode.
type fileStamp struct {
	ino   uint64
	size  int64
	mtime time.Time
}

func statFile(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, nil
}

func openKeyStore(path string, interval caddy.Duration, logger *zap.Logger) (*keyStore, error) {
	val, _, err := keyStores.LoadOrNew(path, func() (caddy.Destructor, error) {
		ks := &keyStore{
			path:     path,
			interval: time.Duration(interval),
			logger:   logger.With(zap.String("keys_file", path)),
			stop:     make(chan struct{}),
			done:     make(chan struct{}),
		}
		if err := ks.load(); err != nil {
			return nil, err
		}
		go ks.watch()
		return ks, nil
	})
	if err != nil {
		return nil, err
	}
	return val.(*keyStore), nil
}

func (ks *keyStore) current() *policy.Registry { return ks.reg.Load() }

func (ks *keyStore) release() error {
	_, err := keyStores.Delete(ks.path)
	return err
}

// Destruct stops the watcher once no configuration uses the store.
func (ks *keyStore) Destruct() error {
	ks.stopOnce.Do(func() { close(ks.stop) })
	<-ks.done
	return nil
}

// load reads and compiles the file. On error the current registry stays.
func (ks *keyStore) load() error {
	st, err := statFile(ks.path)
	if err != nil {
		return fmt.Errorf("keys_file '%s': %w; create it with 'awragate keys create --file %s ...'", ks.path, err, ks.path)
	}
	data, err := os.ReadFile(ks.path)
	if err != nil {
		return fmt.Errorf("keys_file '%s': %w", ks.path, err)
	}
	ks.lastStat = st

	sum := sha256.Sum256(data)
	if ks.reg.Load() != nil && bytes.Equal(sum[:], ks.lastSum[:]) {
		return nil
	}

	f, err := policy.ParseKeysFile(data)
	if err != nil {
		return fmt.Errorf("keys_file '%s': %w", ks.path, err)
	}
	reg, err := policy.NewRegistry(f, ks.reg.Load())
	if err != nil {
		return fmt.Errorf("keys_file '%s': %w", ks.path, err)
	}

	ks.lastSum = sum
	old := ks.reg.Swap(reg)
	if old != nil {
		ks.auditChanges(policy.DiffRegistries(old, reg))
	}
	return nil
}

// setAudit makes later reloads record their key changes in p.
func (ks *keyStore) setAudit(p *audit.Pipeline) { ks.audit.Store(p) }

// auditChanges records each key change as an admin event, and logs it.
func (ks *keyStore) auditChanges(changes []policy.KeyChange) {
	p := ks.audit.Load()
	for _, ch := range changes {
		ks.logger.Info("key changed", zap.String("key_id", ch.KeyID), zap.String("change", string(ch.Kind)))
		if p == nil {
			continue
		}
		p.Enqueue(&audit.Event{
			Module:   audit.ModuleAdmin,
			Decision: audit.DecisionAllow,
			Reason:   policy.Reason(ch.Kind),
			KeyID:    ch.KeyID,
			Detail:   "keys_file=" + ks.path,
		})
	}
}

func (ks *keyStore) watch() {
	defer close(ks.done)
	ticker := time.NewTicker(ks.interval)
	defer ticker.Stop()

	missing := false
	for {
		select {
		case <-ks.stop:
			return
		case <-ticker.C:
		}

		st, err := statFile(ks.path)
		if err != nil {
			if !missing {
				missing = true
				ks.logger.Error("keys file unreadable; the last good registry keeps serving", zap.Error(err))
			}
			continue
		}
		missing = false
		if st == ks.lastStat {
			continue
		}

		// load runs once per change of the file, so every rejected version
		// is reported once.
		if err := ks.load(); err != nil {
			ks.logger.Error("keys file rejected; the last good registry keeps serving", zap.Error(err))
			continue
		}
		ks.logger.Info("keys file loaded", zap.Int("keys", ks.current().Len()))
	}
}
