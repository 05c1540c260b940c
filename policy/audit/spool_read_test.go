package audit

import (
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// The spool is read back as decoded events only by tests: the publisher
// copies spooled events into a batch without decoding them (readPacked).

// spooledEvent is one event read back from the spool.
type spooledEvent struct {
	seq       uint64
	spooledAt int64
	values    fieldValues
}

// decodeSegment decodes every event of a segment, checking the layout
// that spool_segment.go describes.
func decodeSegment(key, value []byte) ([]spooledEvent, error) {
	seg, err := parseSegment(key, value)
	if err != nil {
		return nil, err
	}
	// The count comes from the segment, so it does not size the slice.
	var out []spooledEvent
	rest := seg.events
	for i := 0; i < seg.count; i++ {
		var event []byte
		if event, rest, err = nextEvent(rest); err != nil {
			return nil, err
		}
		if _, err := checkPackedEvent(event); err != nil {
			return nil, err
		}
		unpacked, err := unpackBatch(append([]byte{mpFixArray | 1}, event...))
		if err != nil {
			return nil, err
		}
		se := spooledEvent{seq: seg.first + uint64(i), spooledAt: seg.spooledAt}
		copy(se.values[:], unpacked[0])
		if want := strconv.FormatUint(se.seq, 10); se.values[fieldSeq] != want {
			return nil, fmt.Errorf("event %d has seq %q, want %s", i, se.values[fieldSeq], want)
		}
		out = append(out, se)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes after the segment's %d events", len(rest), seg.count)
	}
	return out, nil
}

// readAfter appends to dst up to max events with seq above after, in seq
// order.
func (s *spool) readAfter(after uint64, max int, dst []spooledEvent) ([]spooledEvent, error) {
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSegments).Cursor()
		for k, v := seekSegment(c, after+1); k != nil && len(dst) < max; k, v = c.Next() {
			events, err := decodeSegment(k, v)
			if err != nil {
				return err
			}
			for _, ev := range events {
				if ev.seq > after && len(dst) < max {
					dst = append(dst, ev)
				}
			}
		}
		return nil
	})
	return dst, err
}
