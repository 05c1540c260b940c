package audit

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Spools of format 1 kept one record per event in the bucket "events",
// under the big-endian seq:
//
//	format byte (1) | spooled-at, 8 bytes big-endian Unix nanoseconds |
//	for each field of FieldNames: uvarint byte length, value
//
// Open converts such a spool to segments before the pipeline starts, so
// that events spooled by an older gateway are still published.
const (
	spoolFormatRecords = "1"
	recordFormat       = 1
)

var bucketRecords = []byte("events")

// checkRecords reads every record of a format 1 spool and returns an
// error wrapping errSpoolCorrupt for the first one that does not decode.
func checkRecords(rb *bolt.Bucket) error {
	return rb.ForEach(func(k, data []byte) error {
		if _, ok := decodeSeq(k); !ok {
			return fmt.Errorf("%w: key %x of bucket 'events' is not a seq", errSpoolCorrupt, k)
		}
		if _, _, err := decodeRecord(data); err != nil {
			return fmt.Errorf("%w: record %x: %v", errSpoolCorrupt, k, err)
		}
		return nil
	})
}

// migrateRecords converts a format 1 spool whose records checkRecords
// accepted. It moves the records into segments, up to DefaultSpoolBatch
// records per transaction, so that a long backlog never sits in memory at
// once, and marks the spool format 2 when the last record has moved. A
// crash in between leaves format 1 with part of the events in segments,
// and the next Open goes on from there.
func (s *spool) migrateRecords() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt panicked while converting it from format %s: %v", errSpoolCorrupt, spoolFormatRecords, r)
		}
	}()

	var b segmentBuilder
	for done := false; !done; {
		err = s.update(func(tx *bolt.Tx) error {
			done, err = migrateRun(tx, &b)
			return err
		})
		if err != nil {
			return fmt.Errorf("converting audit spool '%s' from format %s: %w", s.path, spoolFormatRecords, err)
		}
	}
	return nil
}

// migrateRun moves the oldest run of consecutive records, up to
// DefaultSpoolBatch of them, into segments. When no record is left it
// removes the bucket "events" and stores the new format instead.
func migrateRun(tx *bolt.Tx, b *segmentBuilder) (done bool, err error) {
	rb := tx.Bucket(bucketRecords)
	sb, err := tx.CreateBucketIfNotExists(bucketSegments)
	if err != nil {
		return false, err
	}
	sb.FillPercent = 1.0

	c := rb.Cursor()
	var next uint64
	n := 0
	// Seek to the first key after every delete: bbolt's Cursor.Next after
	// Cursor.Delete skips a key.
	for k, data := c.First(); k != nil && n < DefaultSpoolBatch; k, data = c.First() {
		seq, _ := decodeSeq(k)
		if n > 0 && seq != next {
			break
		}
		at, v, err := decodeRecord(data)
		if err != nil {
			return false, err
		}
		if n == 0 {
			b.reset(at)
		}
		b.add(seq, &v)
		if err := c.Delete(); err != nil {
			return false, err
		}
		n, next = n+1, seq+1
	}

	if n > 0 {
		return false, b.segments(func(first uint64, value []byte) error {
			return sb.Put(encodeSeq(first), value)
		})
	}
	if err := tx.DeleteBucket(bucketRecords); err != nil {
		return false, err
	}
	return true, tx.Bucket(bucketMeta).Put(metaFormat, []byte(spoolFormat))
}

// decodeRecord decodes a format 1 record. The values share one copy of the
// record, so they stay valid after the bbolt transaction ends.
func decodeRecord(b []byte) (spooledAt int64, v fieldValues, err error) {
	if len(b) < 9 || b[0] != recordFormat {
		return 0, v, errors.New("spool record has an unknown format")
	}
	spooledAt = int64(binary.BigEndian.Uint64(b[1:9]))
	fields := b[9:]
	rec := string(fields)
	for i := range v {
		n, k := binary.Uvarint(fields)
		if k <= 0 || n > uint64(len(fields)-k) {
			return 0, v, fmt.Errorf("spool record field '%s' is truncated", FieldNames[i])
		}
		start := len(rec) - len(fields) + k
		v[i] = rec[start : start+int(n)]
		fields = fields[k+int(n):]
	}
	if len(fields) != 0 {
		return 0, v, errors.New("spool record has trailing bytes")
	}
	return spooledAt, v, nil
}
