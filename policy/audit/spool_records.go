package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// recordFormat is the first byte of every encoded spool record.
const recordFormat = 1

// A spool record is
//
//	format byte (1) | spooled-at, 8 bytes big-endian Unix nanoseconds |
//	for each field of FieldNames: uvarint byte length, value
//
// The spooled-at time feeds the oldest-unpublished-age statistic.

// pendingRecord is an encoded record waiting for its spool transaction.
type pendingRecord struct {
	seq  uint64
	data []byte
}

func encodeRecord(buf []byte, spooledAt int64, v *fieldValues) []byte {
	buf = append(buf, recordFormat)
	buf = binary.BigEndian.AppendUint64(buf, uint64(spooledAt))
	for i := range v {
		buf = binary.AppendUvarint(buf, uint64(len(v[i])))
		buf = append(buf, v[i]...)
	}
	return buf
}

// splitRecord checks a spool record's header and returns its spooled-at
// time and the encoded fields.
func splitRecord(b []byte) (spooledAt int64, fields []byte, err error) {
	if len(b) < 9 || b[0] != recordFormat {
		return 0, nil, errors.New("spool record has an unknown format")
	}
	return int64(binary.BigEndian.Uint64(b[1:9])), b[9:], nil
}

// nextField returns the value of field i at the start of fields and the
// bytes after it.
func nextField(fields []byte, i int) (value, rest []byte, err error) {
	n, k := binary.Uvarint(fields)
	if k <= 0 || n > uint64(len(fields)-k) {
		return nil, nil, fmt.Errorf("spool record field '%s' is truncated", FieldNames[i])
	}
	end := k + int(n)
	return fields[k:end], fields[end:], nil
}

// appendBatch stores records, whose seqs follow the stored last_seq, and
// the new chain head in one transaction. It returns the file size.
func (s *spool) appendBatch(recs []pendingRecord, lastSeq uint64, lastHash string) (size int64, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		eb := tx.Bucket(bucketEvents)
		// Keys only grow, so full pages waste no space.
		eb.FillPercent = 1.0
		for _, r := range recs {
			if err := eb.Put(encodeSeq(r.seq), r.data); err != nil {
				return err
			}
		}
		mb := tx.Bucket(bucketMeta)
		if err := mb.Put(metaLastSeq, encodeSeq(lastSeq)); err != nil {
			return err
		}
		return mb.Put(metaLastHash, []byte(lastHash))
	})
	if err != nil {
		return 0, err
	}
	return s.fileSize(), nil
}

// fileSize returns the size of the spool file, or 0 when it cannot be
// read.
func (s *spool) fileSize() int64 {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readPacked fills pb with up to max events with seq above after, in seq
// order, packed for the publish script.
func (s *spool) readPacked(after uint64, max int, pb *packedBatch) error {
	pb.reset()
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, data := c.Seek(encodeSeq(after + 1)); k != nil && pb.count < max; k, data = c.Next() {
			seq, ok := decodeSeq(k)
			if !ok {
				return fmt.Errorf("spool key %x is not a seq", k)
			}
			if err := pb.add(seq, data); err != nil {
				return fmt.Errorf("reading spooled seq %d: %w", seq, err)
			}
		}
		return nil
	})
}

// firstSeq returns the lowest seq in the spool, or 0 when it is empty.
func (s *spool) firstSeq() (uint64, error) {
	var first uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketEvents).Cursor().First()
		if k != nil {
			first, _ = decodeSeq(k)
		}
		return nil
	})
	return first, err
}

// saveCursor stores the publish cursor and deletes up to maxDelete events
// with seq at or below pruneUpTo, in one transaction. It returns the number
// deleted and the file size. Deleted pages are reused, but the file does
// not shrink.
func (s *spool) saveCursor(cursor, pruneUpTo uint64, maxDelete int) (deleted int, size int64, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(metaCursor, encodeSeq(cursor)); err != nil {
			return err
		}
		// Seek to the first key after every delete: bbolt's Cursor.Next
		// after Cursor.Delete skips a key.
		c := tx.Bucket(bucketEvents).Cursor()
		for k, _ := c.First(); k != nil && deleted < maxDelete; k, _ = c.First() {
			if seq, _ := decodeSeq(k); seq > pruneUpTo {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			deleted++
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return deleted, s.fileSize(), nil
}
