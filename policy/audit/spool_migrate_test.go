package audit

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/awra/awragate/internal/testredis"
	bolt "go.etcd.io/bbolt"
)

// encodeRecord writes a format 1 record, as gateways before spool format 2
// did.
func encodeRecord(buf []byte, spooledAt int64, v *fieldValues) []byte {
	buf = append(buf, recordFormat)
	buf = binary.BigEndian.AppendUint64(buf, uint64(spooledAt))
	for i := range v {
		buf = binary.AppendUvarint(buf, uint64(len(v[i])))
		buf = append(buf, v[i]...)
	}
	return buf
}

// downgradeSpool rewrites the closed spool at path in format 1, as an
// older gateway would have left it. The first keep segments stay as they
// are, as after a conversion that a crash cut short.
func downgradeSpool(t *testing.T, path string, keep int) {
	t.Helper()
	updateSpoolFile(t, path, func(tx *bolt.Tx) error {
		rb, err := tx.CreateBucket(bucketRecords)
		if err != nil {
			return err
		}
		var keys [][]byte
		n := 0
		err = tx.Bucket(bucketSegments).ForEach(func(k, v []byte) error {
			if n++; n <= keep {
				return nil
			}
			events, err := decodeSegment(k, v)
			if err != nil {
				return err
			}
			for _, ev := range events {
				if err := rb.Put(encodeSeq(ev.seq), encodeRecord(nil, ev.spooledAt, &ev.values)); err != nil {
					return err
				}
			}
			keys = append(keys, append([]byte(nil), k...))
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Bucket(bucketSegments).Delete(k); err != nil {
				return err
			}
		}
		if keep == 0 {
			if err := tx.DeleteBucket(bucketSegments); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaFormat, []byte(spoolFormatRecords))
	})
}

// spoolFormatOf returns the format stored in a closed spool and whether
// its format 1 bucket is still there.
func spoolFormatOf(t *testing.T, path string) (format string, hasRecords bool) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("bolt.Open(%s) = %v", path, err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		format = string(tx.Bucket(bucketMeta).Get(metaFormat))
		hasRecords = tx.Bucket(bucketRecords) != nil
		return nil
	})
	return format, hasRecords
}

// A spool left by a gateway of spool format 1 is converted at Open: every
// event it contains reaches the stream once, with its chain intact, and the
// file is format 2 afterwards. A conversion cut short by a crash goes on.
func TestSpoolFormat1IsConverted(t *testing.T) {
	for _, tt := range []struct {
		name string
		keep int
	}{
		{"whole spool", 0},
		{"conversion cut short", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := testredis.Start(t)
			cfg := testConfig(t, "")
			cfg.CommitInterval = time.Millisecond
			p := mustOpen(t, cfg)
			instance := p.Instance()
			// Several commits, so that there are several segments.
			for i := 0; i < 300; i++ {
				p.Enqueue(requestEvent(i))
				if i%50 == 49 {
					time.Sleep(5 * time.Millisecond)
				}
			}
			waitFor(t, 5*time.Second, "300 spooled events", func() bool { return p.Stats().LastSeq == 300 })
			mustClose(t, p)

			path := filepath.Join(cfg.SpoolDir, SpoolFileName)
			downgradeSpool(t, path, tt.keep)

			cfg.RedisURL = srv.URL()
			p = mustOpen(t, cfg)
			if p.Instance() != instance {
				t.Fatalf("Instance() after the conversion = %q, want %q: the chain must go on", p.Instance(), instance)
			}
			p.Enqueue(requestEvent(300))
			waitPublished(t, p, 301, 10*time.Second)
			checkStream(t, newClient(t, srv), cfg.Stream, cfg.ChainKey, instance, 301)
			mustClose(t, p)

			if format, hasRecords := spoolFormatOf(t, path); format != spoolFormat || hasRecords {
				t.Fatalf("spool after the conversion: format %q, bucket 'events' present %v; want %q and absent", format, hasRecords, spoolFormat)
			}
		})
	}
}

// A format 1 spool with a bad record is moved aside unchanged instead of
// being converted in part.
func TestSpoolFormat1WithBadRecordIsMovedAside(t *testing.T) {
	cfg := testConfig(t, "")
	p := mustOpen(t, cfg)
	oldInstance := p.Instance()
	for i := 0; i < 20; i++ {
		p.Enqueue(requestEvent(i))
	}
	waitFor(t, 5*time.Second, "20 spooled events", func() bool { return p.Stats().LastSeq == 20 })
	mustClose(t, p)

	path := filepath.Join(cfg.SpoolDir, SpoolFileName)
	downgradeSpool(t, path, 0)
	updateSpoolFile(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRecords).Put(encodeSeq(7), []byte{recordFormat, 0, 0, 0, 0, 0, 0, 0, 1, 0xff})
	})

	damaged, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}

	p = mustOpen(t, cfg)
	if p.Instance() == oldInstance {
		t.Fatalf("Instance() after a bad format 1 spool = %q, want a new epoch", p.Instance())
	}
	moved, _ := filepath.Glob(path + ".corrupt-*")
	if len(moved) != 1 {
		t.Fatalf("corrupt files = %v, want one", moved)
	}
	if movedBytes, _ := os.ReadFile(moved[0]); !bytes.Equal(movedBytes, damaged) {
		t.Fatalf("%s differs from the spool before Open: it must be moved aside as it was", moved[0])
	}
}
