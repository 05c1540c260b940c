package audit

import (
	"encoding/binary"
	"errors"
)

// A packed batch carries spooled events to the publish script as one
// MessagePack value instead of two script arguments per field. Redis
// unpacks it with its built-in cmsgpack library. Writing 42 arguments per
// event took 3.5% of the gateway's CPU in a bench/ profile at 8,000
// requests a second, about as much as the spool commits. One argument per
// batch brought the publisher down to 1.3%.
//
// The value is an array holding, for each event in seq order, the array
// of its field values in FieldNames order. Only the formats of the
// original MessagePack specification are used (fixarray, array 16/32,
// fixstr, str 16/32), which every MessagePack decoder reads.

// MessagePack type bytes.
const (
	mpFixArray = 0x90 // | length, up to 15
	mpArray16  = 0xdc
	mpArray32  = 0xdd
	mpFixStr   = 0xa0 // | length, up to 31
	mpStr16    = 0xda
	mpStr32    = 0xdb
)

// packedBatch is a batch of spooled events packed for the publish script.
// It is reused from one batch to the next.
type packedBatch struct {
	data    []byte // the MessagePack array, whose count finish writes
	count   int    // events in data
	first   uint64 // seq of the first event
	last    uint64 // seq of the last event
	firstAt int64  // when the first event was spooled, Unix nanoseconds
}

// reset empties the batch, keeping its buffer.
func (pb *packedBatch) reset() {
	// An array 32 header with a zero count, which finish replaces.
	pb.data = append(pb.data[:0], mpArray32, 0, 0, 0, 0)
	pb.count, pb.first, pb.last, pb.firstAt = 0, 0, 0, 0
}

// add appends the spool record rec, stored under seq, to the batch. A
// malformed record leaves the batch as it was.
func (pb *packedBatch) add(seq uint64, rec []byte) error {
	at, fields, err := splitRecord(rec)
	if err != nil {
		return err
	}
	mark := len(pb.data)
	pb.data = appendArrayHeader(pb.data, numFields)
	for i := 0; i < numFields; i++ {
		value, rest, err := nextField(fields, i)
		if err != nil {
			pb.data = pb.data[:mark]
			return err
		}
		pb.data = appendStr(pb.data, value)
		fields = rest
	}
	if len(fields) != 0 {
		pb.data = pb.data[:mark]
		return errTrailingBytes
	}

	if pb.count == 0 {
		pb.first, pb.firstAt = seq, at
	}
	pb.last = seq
	pb.count++
	return nil
}

// finish writes the event count into the array header and returns the
// packed value.
func (pb *packedBatch) finish() []byte {
	binary.BigEndian.PutUint32(pb.data[1:5], uint32(pb.count))
	return pb.data
}

func appendArrayHeader(b []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(b, mpFixArray|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, mpArray16), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, mpArray32), uint32(n))
	}
}

func appendStr[S string | []byte](b []byte, s S) []byte {
	switch n := len(s); {
	case n <= 31:
		b = append(b, mpFixStr|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, mpStr16), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, mpStr32), uint32(n))
	}
	return append(b, s...)
}

// packedFieldNames is FieldNames packed as one MessagePack array, sent
// with every batch so that the script needs no copy of the names.
var packedFieldNames = func() []byte {
	b := appendArrayHeader(nil, numFields)
	for _, name := range FieldNames {
		b = appendStr(b, name)
	}
	return b
}()

// errTrailingBytes reports a record longer than its fields.
var errTrailingBytes = errors.New("spool record has trailing bytes")
