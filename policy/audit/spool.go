package audit

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The spool is a bbolt file with two buckets. "segments" maps the
// big-endian seq of a segment's first event to the segment (see
// spool_segment.go). "meta" holds the chain state, updated in the same
// transaction as the events it describes. Spools of format 1 kept one
// record per event in a bucket "events"; Open converts them (see
// spool_migrate.go).
var (
	bucketSegments = []byte("segments")
	bucketMeta     = []byte("meta")

	metaFormat   = []byte("format")         // spoolFormat as a decimal string
	metaInstance = []byte("instance")       // instance id of this spool's chain
	metaLastSeq  = []byte("last_seq")       // 8 bytes big-endian
	metaLastHash = []byte("last_hash")      // hex hash of last_seq, empty before seq 1
	metaCursor   = []byte("publish_cursor") // 8 bytes big-endian: highest seq known to be in Redis
	metaRunning  = []byte("running")        // present while a pipeline has the spool open
)

const spoolFormat = "2"

// errSpoolCorrupt wraps every reason to move a spool file aside.
var errSpoolCorrupt = errors.New("spool file is corrupt")

// openSpools holds the absolute paths of the spool files open in this
// process. bbolt's file lock does not stop a second open in the same
// process from waiting, so a second Open fails here at once instead.
var openSpools = struct {
	sync.Mutex
	paths map[string]bool
}{paths: map[string]bool{}}

// spool is the crash-safe local store of sequenced events. Its methods are
// safe for concurrent use; bbolt runs one write transaction at a time.
type spool struct {
	db   *bolt.DB
	path string
}

// spoolMeta is the chain state stored in the meta bucket.
type spoolMeta struct {
	instance string
	lastSeq  uint64
	lastHash string
	cursor   uint64
	running  bool // the previous pipeline did not close the spool
	migrate  bool // the spool is of format 1 and must be converted
}

// spoolReset describes a corrupt spool file that was moved aside.
type spoolReset struct {
	movedTo string
	cause   error
}

// claimSpoolPath registers path as open in this process.
func claimSpoolPath(path string) error {
	openSpools.Lock()
	defer openSpools.Unlock()
	if openSpools.paths[path] {
		return fmt.Errorf("audit spool '%s' is already open in this process: share one Pipeline per spool_dir", path)
	}
	openSpools.paths[path] = true
	return nil
}

func releaseSpoolPath(path string) {
	openSpools.Lock()
	delete(openSpools.paths, path)
	openSpools.Unlock()
}

// openSpool opens or creates the spool at path. A file that bbolt cannot
// read, or whose meta bucket is unusable, is renamed to
// path.corrupt-<UTC time> and replaced by a new spool, and reset then
// names the old file's new path. instanceName is the prefix of the instance id
// of a new spool.
func openSpool(path string, lockTimeout time.Duration, now time.Time, instanceName string) (s *spool, meta spoolMeta, reset *spoolReset, err error) {
	s, meta, err = tryOpenSpool(path, lockTimeout, instanceName)
	if err == nil || !errors.Is(err, errSpoolCorrupt) {
		return s, meta, nil, err
	}

	movedTo, moveErr := moveAside(path, now)
	if moveErr != nil {
		return nil, spoolMeta{}, nil, fmt.Errorf("audit spool '%s' is corrupt (%v) and could not be moved aside: %w", path, err, moveErr)
	}
	reset = &spoolReset{movedTo: movedTo, cause: err}

	s, meta, err = tryOpenSpool(path, lockTimeout, instanceName)
	if err != nil {
		return nil, spoolMeta{}, nil, fmt.Errorf("creating audit spool '%s' after moving the corrupt one to '%s': %w", path, movedTo, err)
	}
	return s, meta, reset, nil
}

// tryOpenSpool opens path once. Errors that mean the file is unreadable wrap
// errSpoolCorrupt.
func tryOpenSpool(path string, lockTimeout time.Duration, instanceName string) (*spool, spoolMeta, error) {
	db, err := boltOpen(path, lockTimeout)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, spoolMeta{}, fmt.Errorf("audit spool '%s' is locked by another process: stop it or give this gateway its own spool_dir", path)
	}
	if err != nil {
		return nil, spoolMeta{}, fmt.Errorf("opening audit spool '%s': %w", path, err)
	}

	s := &spool{db: db, path: path}
	meta, err := s.loadMeta(instanceName)
	if err == nil && meta.running {
		err = s.check()
	}
	if err == nil && meta.migrate {
		err = s.migrateRecords()
	}
	if err != nil {
		_ = db.Close()
		return nil, spoolMeta{}, err
	}
	return s, meta, nil
}

// boltOpen opens the bbolt file, turning the errors and panics of an
// unreadable file into errSpoolCorrupt.
func boltOpen(path string, lockTimeout time.Duration) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: bbolt panicked while opening it: %v", errSpoolCorrupt, r)
		}
	}()

	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	switch {
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("%w: %v", errSpoolCorrupt, err)
	}
	return db, err
}

// loadMeta reads the chain state, creating the buckets and a new instance id
// in an empty file.
func (s *spool) loadMeta(instanceName string) (meta spoolMeta, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt panicked while reading it: %v", errSpoolCorrupt, r)
		}
	}()

	err = s.update(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMeta)
		if mb == nil {
			return initSpool(tx, instanceName, &meta)
		}
		switch v := string(mb.Get(metaFormat)); v {
		case spoolFormat:
			if tx.Bucket(bucketSegments) == nil {
				return fmt.Errorf("%w: bucket 'segments' is missing", errSpoolCorrupt)
			}
		case spoolFormatRecords:
			rb := tx.Bucket(bucketRecords)
			if rb == nil {
				return fmt.Errorf("%w: bucket 'events' is missing", errSpoolCorrupt)
			}
			// Checked before anything is written, so that a spool with a bad
			// record is moved aside as it was.
			if err := checkRecords(rb); err != nil {
				return err
			}
			meta.migrate = true
		default:
			return fmt.Errorf("%w: spool format is '%s', expected '%s' or '%s'", errSpoolCorrupt, truncate(v), spoolFormat, spoolFormatRecords)
		}

		meta.instance = string(mb.Get(metaInstance))
		meta.lastHash = string(mb.Get(metaLastHash))
		meta.running = mb.Get(metaRunning) != nil
		var okSeq, okCursor bool
		meta.lastSeq, okSeq = decodeSeq(mb.Get(metaLastSeq))
		meta.cursor, okCursor = decodeSeq(mb.Get(metaCursor))
		switch {
		case meta.instance == "":
			return fmt.Errorf("%w: instance id is missing", errSpoolCorrupt)
		case !okSeq || !okCursor:
			return fmt.Errorf("%w: last_seq or publish_cursor is malformed", errSpoolCorrupt)
		case meta.lastSeq == 0 && meta.lastHash != "", meta.lastSeq > 0 && !isLowerHex(meta.lastHash, hashLen):
			return fmt.Errorf("%w: last_hash does not fit last_seq %d", errSpoolCorrupt, meta.lastSeq)
		case meta.cursor > meta.lastSeq:
			return fmt.Errorf("%w: publish_cursor %d is beyond last_seq %d", errSpoolCorrupt, meta.cursor, meta.lastSeq)
		}
		return mb.Put(metaRunning, []byte{1})
	})
	return meta, err
}

// initSpool creates the buckets of a new spool and its instance id.
func initSpool(tx *bolt.Tx, instanceName string, meta *spoolMeta) error {
	if tx.Bucket(bucketSegments) != nil || tx.Bucket(bucketRecords) != nil {
		return fmt.Errorf("%w: bucket 'meta' is missing", errSpoolCorrupt)
	}
	mb, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucket(bucketSegments); err != nil {
		return err
	}

	epoch := make([]byte, 4)
	if _, err := rand.Read(epoch); err != nil {
		return fmt.Errorf("generating the instance epoch: %w", err)
	}
	meta.instance = instanceName + "-" + hex.EncodeToString(epoch)
	for _, kv := range [][2][]byte{
		{metaFormat, []byte(spoolFormat)},
		{metaInstance, []byte(meta.instance)},
		{metaLastSeq, encodeSeq(0)},
		{metaLastHash, {}},
		{metaCursor, encodeSeq(0)},
		{metaRunning, {1}},
	} {
		if err := mb.Put(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// update runs fn in a write transaction, whose commit waits for the disk.
//
// NOTE: bbolt syncs inside Commit, which holds the goroutine's P. On a
// gateway with GOMAXPROCS 1 requests wait for each sync (the proxy was
// idle 1% to 4% of the time under load in bench/RESULTS.md).
func (s *spool) update(fn func(*bolt.Tx) error) error {
	return s.db.Update(fn)
}

// check runs bbolt's consistency check; it is used after an unclean stop.
func (s *spool) check() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt panicked during its consistency check: %v", errSpoolCorrupt, r)
		}
	}()
	return s.db.View(func(tx *bolt.Tx) error {
		for cerr := range tx.Check() {
			// Drain the channel so the checking goroutine ends.
			if err == nil {
				err = fmt.Errorf("%w: %v", errSpoolCorrupt, cerr)
			}
		}
		return err
	})
}

// close clears the running marker and closes the file.
func (s *spool) close() error {
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Delete(metaRunning)
	})
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// moveAside renames a corrupt spool file to path.corrupt-<UTC time>,
// adding a counter when that name is taken.
func moveAside(path string, now time.Time) (string, error) {
	base := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	target := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
			break
		}
		target = fmt.Sprintf("%s-%d", base, i)
	}
	return target, os.Rename(path, target)
}

// defaultInstanceName returns the host name and six hex digits of the
// SHA-256 of the absolute spool directory, so two gateways on one host get
// different names.
func defaultInstanceName(spoolDir string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "gateway"
	}
	abs, err := filepath.Abs(spoolDir)
	if err != nil {
		abs = spoolDir
	}
	sum := sha256.Sum256([]byte(abs))
	return host + "-" + hex.EncodeToString(sum[:3])
}

func encodeSeq(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

func decodeSeq(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}
