package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// segmentFormat is the first byte of every segment.
const segmentFormat = 2

// maxSegmentBytes bounds a segment of more than one event. bbolt splits a
// leaf only into leaves of at least two values. A leaf larger than a page costs a fresh
// buffer and a copy of all its values at every commit that touches it, so
// two segments must fit in one 4 KiB page with their headers. A commit
// stores its events in as many segments as they need, in one transaction,
// and an event larger than this gets a segment of its own. It is a
// variable so that tests can change it.
var maxSegmentBytes = 1984

// maxPruneSegments bounds the segments deleted from the spool per
// transaction. The publisher prunes once a second, so this is also the
// most it deletes per second: about 65,000 events of 450 bytes, which
// leaves room above the rate of a busy gateway.
const maxPruneSegments = 16384

// A segment contains consecutive events of one commit under the big-endian
// seq of its first event:
//
//	format byte (2) | spooled-at, 8 bytes big-endian Unix nanoseconds |
//	event count, 4 bytes big-endian |
//	for each event: byte length, 4 bytes big-endian, then the event
//
// Each event is stored in the form the publish script reads (a MessagePack
// array of its field values, see pack.go), so publishing copies bytes and
// decodes nothing. A commit costs one bbolt Put, and pruning one Delete,
// per segment instead of per event. In a pipeline benchmark at 20,000
// events a second this cut the CPU per event by a quarter against one
// bbolt value per event (bench/RESULTS.md). The spooled-at time feeds the
// oldest-unpublished-age statistic.
const segmentHeaderLen = 1 + 8 + 4

// segment is a parsed segment header and the events after it.
type segment struct {
	first     uint64 // seq of the first event
	count     int
	spooledAt int64
	events    []byte // the length-prefixed events
}

// last returns the seq of the segment's last event.
func (s *segment) last() uint64 { return s.first + uint64(s.count) - 1 }

// parseSegment checks a segment's header. The events are checked as they
// are read.
func parseSegment(key, value []byte) (segment, error) {
	first, ok := decodeSeq(key)
	if !ok || first == 0 {
		return segment{}, fmt.Errorf("spool key %x is not a seq", key)
	}
	if len(value) < segmentHeaderLen || value[0] != segmentFormat {
		return segment{}, fmt.Errorf("spool segment at seq %d has an unknown format", first)
	}
	count := binary.BigEndian.Uint32(value[9:13])
	if count == 0 || uint64(count) > ^uint64(0)-first {
		return segment{}, fmt.Errorf("spool segment at seq %d has an invalid event count %d", first, count)
	}
	return segment{
		first:     first,
		count:     int(count),
		spooledAt: int64(binary.BigEndian.Uint64(value[1:9])),
		events:    value[segmentHeaderLen:],
	}, nil
}

// nextEvent returns the event at the start of events and the bytes after
// it. It does not check the event itself (see checkPackedEvent).
func nextEvent(events []byte) (event, rest []byte, err error) {
	if len(events) < 4 {
		return nil, nil, errors.New("event length is truncated")
	}
	n := binary.BigEndian.Uint32(events)
	if uint64(n) > uint64(len(events)-4) {
		return nil, nil, fmt.Errorf("event of %d bytes is truncated to %d", n, len(events)-4)
	}
	end := 4 + int(n)
	return events[4:end], events[end:], nil
}

// segmentBuilder encodes the segments of one commit. It is reused from one
// commit to the next.
type segmentBuilder struct {
	buf    []byte
	starts []int    // offset in buf of each segment
	firsts []uint64 // seq of each segment's first event
	count  int      // events in the open segment
	at     int64
}

// reset starts a commit whose events were spooled at at.
func (b *segmentBuilder) reset(at int64) {
	b.buf, b.starts, b.firsts, b.count, b.at = b.buf[:0], b.starts[:0], b.firsts[:0], 0, at
}

// add appends the event with seq and field values v. It goes into the
// open segment unless that would make the segment larger than
// maxSegmentBytes, and into a new one otherwise.
func (b *segmentBuilder) add(seq uint64, v *fieldValues) {
	mark := len(b.buf)
	b.buf = append(b.buf, 0, 0, 0, 0)
	b.buf = appendPackedEvent(b.buf, v)
	binary.BigEndian.PutUint32(b.buf[mark:], uint32(len(b.buf)-mark-4))

	if n := len(b.starts); n == 0 || len(b.buf)-b.starts[n-1] > maxSegmentBytes && b.count > 0 {
		// Move the event behind a new segment header.
		b.close()
		event := len(b.buf) - mark
		var header [segmentHeaderLen]byte
		header[0] = segmentFormat
		binary.BigEndian.PutUint64(header[1:], uint64(b.at))
		// The count stays 0 until close writes it.
		b.buf = append(b.buf, header[:]...)
		copy(b.buf[mark+segmentHeaderLen:], b.buf[mark:mark+event])
		copy(b.buf[mark:], header[:])
		b.starts = append(b.starts, mark)
		b.firsts = append(b.firsts, seq)
	}
	b.count++
}

// close writes the open segment's event count.
func (b *segmentBuilder) close() {
	if n := len(b.starts); n > 0 && b.count > 0 {
		binary.BigEndian.PutUint32(b.buf[b.starts[n-1]+9:], uint32(b.count))
	}
	b.count = 0
}

// segments closes the open segment and calls fn with each segment's key
// and value, stopping at the first error.
func (b *segmentBuilder) segments(fn func(first uint64, value []byte) error) error {
	b.close()
	for i, start := range b.starts {
		end := len(b.buf)
		if i+1 < len(b.starts) {
			end = b.starts[i+1]
		}
		if err := fn(b.firsts[i], b.buf[start:end]); err != nil {
			return err
		}
	}
	return nil
}

// appendSegments stores the builder's segments, whose seqs follow the
// stored last_seq, and the new chain head in one transaction. It returns
// the file size.
func (s *spool) appendSegments(b *segmentBuilder, lastSeq uint64, lastHash string) (size int64, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketSegments)
		// Keys only grow, so full pages waste no space.
		sb.FillPercent = 1.0
		err := b.segments(func(first uint64, value []byte) error {
			return sb.Put(encodeSeq(first), value)
		})
		if err != nil {
			return err
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

// seekSegment positions c on the segment that contains seq, or on the
// first segment after it when none does. It returns a nil key when no
// segment contains seq or a later one.
func seekSegment(c *bolt.Cursor, seq uint64) (key, value []byte) {
	key, value = c.Seek(encodeSeq(seq))
	if key != nil && string(key) == string(encodeSeq(seq)) {
		return key, value
	}
	// The segment before the one found may still contain seq.
	if key == nil {
		key, value = c.Last()
	} else if pk, pv := c.Prev(); pk != nil {
		key, value = pk, pv
	} else {
		return c.First()
	}
	if key == nil {
		return nil, nil
	}
	if seg, err := parseSegment(key, value); err == nil && seg.last() < seq {
		return c.Next()
	}
	return key, value
}

// readPacked fills pb with up to max events with seq above after, in seq
// order, packed for the publish script.
func (s *spool) readPacked(after uint64, max int, pb *packedBatch) error {
	pb.reset()
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSegments).Cursor()
		var next uint64 // the seq the next segment must start with
		for k, v := seekSegment(c, after+1); k != nil && pb.count < max; k, v = c.Next() {
			seg, err := parseSegment(k, v)
			if err != nil {
				return err
			}
			// The first segment may start above after+1 when Redis lost
			// events that the spool no longer holds (see rewind).
			if next != 0 && seg.first != next {
				return fmt.Errorf("spool segment at seq %d follows one that ends at seq %d", seg.first, next-1)
			}
			if err := seg.pack(after, max, pb); err != nil {
				return err
			}
			next = seg.last() + 1
		}
		return nil
	})
}

// pack adds the segment's events with seq above after to pb until pb
// contains max events. It checks every event it reads, and the segment's end
// when it reads all of them.
func (s *segment) pack(after uint64, max int, pb *packedBatch) error {
	events := s.events
	for i := 0; i < s.count; i++ {
		if pb.count >= max {
			return nil
		}
		seq := s.first + uint64(i)
		event, rest, err := nextEvent(events)
		if err != nil {
			return fmt.Errorf("reading spooled seq %d: %w", seq, err)
		}
		events = rest
		if seq <= after {
			continue
		}
		if err := pb.add(seq, s.spooledAt, event); err != nil {
			return fmt.Errorf("reading spooled seq %d: %w", seq, err)
		}
	}
	if len(events) != 0 {
		return fmt.Errorf("spool segment at seq %d has bytes after its %d events", s.first, s.count)
	}
	return nil
}

// firstSeq returns the lowest seq in the spool, or 0 when it is empty.
func (s *spool) firstSeq() (uint64, error) {
	var first uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketSegments).Cursor().First()
		if k != nil {
			first, _ = decodeSeq(k)
		}
		return nil
	})
	return first, err
}

// saveCursor stores the publish cursor and deletes up to maxPruneSegments
// segments whose events all have seq at or below pruneUpTo, in one
// transaction. A segment that also holds later events stays whole. It
// returns whether more segments are due and the file size. Deleted pages
// are reused, but the file does not shrink.
func (s *spool) saveCursor(cursor, pruneUpTo uint64) (more bool, size int64, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(metaCursor, encodeSeq(cursor)); err != nil {
			return err
		}
		// Seek to the first key after every delete: bbolt's Cursor.Next
		// after Cursor.Delete skips a key.
		c := tx.Bucket(bucketSegments).Cursor()
		n := 0
		for k, v := c.First(); k != nil; k, v = c.First() {
			seg, err := parseSegment(k, v)
			if err != nil {
				return err
			}
			if seg.last() > pruneUpTo {
				break
			}
			if n == maxPruneSegments {
				more = true
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return false, 0, err
	}
	return more, s.fileSize(), nil
}
