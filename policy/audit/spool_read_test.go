package audit

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The spool is read back as decoded events only by tests: the publisher
// packs records straight from bbolt (readPacked). decodeRecord is the
// reference decoder that the fuzz target compares the packer with.

// spooledEvent is one record read back from the spool.
type spooledEvent struct {
	seq       uint64
	spooledAt int64
	values    fieldValues
}

// decodeRecord decodes a spool record. The fields share one copy of the
// record, so the result stays valid after the bbolt transaction ends and
// costs one allocation.
func decodeRecord(b []byte) (spooledAt int64, v fieldValues, err error) {
	spooledAt, fields, err := splitRecord(b)
	if err != nil {
		return 0, v, err
	}
	rec := string(fields)
	rest := fields
	for i := range v {
		var value []byte
		if value, rest, err = nextField(rest, i); err != nil {
			return 0, v, err
		}
		// The value ends where rest begins.
		end := len(fields) - len(rest)
		v[i] = rec[end-len(value) : end]
	}
	if len(rest) != 0 {
		return 0, v, errTrailingBytes
	}
	return spooledAt, v, nil
}

// readAfter appends to dst up to max events with seq above after, in seq
// order.
func (s *spool) readAfter(after uint64, max int, dst []spooledEvent) ([]spooledEvent, error) {
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, data := c.Seek(encodeSeq(after + 1)); k != nil && len(dst) < max; k, data = c.Next() {
			seq, ok := decodeSeq(k)
			if !ok {
				return fmt.Errorf("spool key %x is not a seq", k)
			}
			at, v, err := decodeRecord(data)
			if err != nil {
				return fmt.Errorf("reading spooled seq %d: %w", seq, err)
			}
			dst = append(dst, spooledEvent{seq: seq, spooledAt: at, values: v})
		}
		return nil
	})
	return dst, err
}
