package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// A packed batch carries spooled events to the publish script as one
// MessagePack value instead of two script arguments per field. Redis
// unpacks it with its built-in cmsgpack library. Writing 42 arguments per
// event took 3.5% of the gateway's CPU in a bench/ profile at 8,000
// requests a second, about as much as the spool commits. One argument per
// batch brought the publisher down to 1.3%.
//
// The value is an array holding, for each event in seq order, the array
// of its field values in FieldNames order. The writer packs each event
// once, into the spool (see spool_segment.go), and the publisher copies
// the packed events into the batch after checking their structure. Only the formats of the
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

// add appends the packed event of seq, spooled at at, to the batch. An
// event that is not an array of numFields strings, or whose seq field is
// not seq, leaves the batch as it was.
func (pb *packedBatch) add(seq uint64, at int64, event []byte) error {
	seqField, err := checkPackedEvent(event)
	if err != nil {
		return err
	}
	var want [20]byte
	if string(seqField) != string(strconv.AppendUint(want[:0], seq, 10)) {
		return fmt.Errorf("spooled event has seq '%s' where seq %d belongs", truncate(string(seqField)), seq)
	}
	pb.data = append(pb.data, event...)
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

// appendPackedEvent appends v as one packed event: an array of its
// values in FieldNames order.
func appendPackedEvent(b []byte, v *fieldValues) []byte {
	b = appendArrayHeader(b, numFields)
	for i := range v {
		b = appendStr(b, v[i])
	}
	return b
}

// checkPackedEvent reports whether event is exactly one array of numFields
// strings in the formats appendPackedEvent writes, and returns the value of
// its seq field. The publisher checks every spooled event this way before
// Redis reads it.
func checkPackedEvent(event []byte) (seqField []byte, err error) {
	n, rest, ok := readArrayHeader(event)
	if !ok || n != numFields {
		return nil, errors.New("spooled event is not an array of the schema's fields")
	}
	for i := 0; i < numFields; i++ {
		var value []byte
		if value, rest, ok = readStrBytes(rest); !ok {
			return nil, fmt.Errorf("spooled event field '%s' is malformed or truncated", FieldNames[i])
		}
		if i == fieldSeq {
			seqField = value
		}
	}
	if len(rest) != 0 {
		return nil, errTrailingBytes
	}
	return seqField, nil
}

// readArrayHeader reads an array header in any of the three formats.
func readArrayHeader(b []byte) (n int, rest []byte, ok bool) {
	switch {
	case len(b) >= 1 && b[0]&0xf0 == mpFixArray:
		return int(b[0] & 0x0f), b[1:], true
	case len(b) >= 3 && b[0] == mpArray16:
		return int(binary.BigEndian.Uint16(b[1:])), b[3:], true
	case len(b) >= 5 && b[0] == mpArray32:
		return int(binary.BigEndian.Uint32(b[1:])), b[5:], true
	}
	return 0, nil, false
}

// readStrBytes returns the string at the start of b and the bytes after
// it.
func readStrBytes(b []byte) (value, rest []byte, ok bool) {
	var n uint64
	var k int
	switch {
	case len(b) >= 1 && b[0]&0xe0 == mpFixStr:
		n, k = uint64(b[0]&0x1f), 1
	case len(b) >= 3 && b[0] == mpStr16:
		n, k = uint64(binary.BigEndian.Uint16(b[1:])), 3
	case len(b) >= 5 && b[0] == mpStr32:
		n, k = uint64(binary.BigEndian.Uint32(b[1:])), 5
	default:
		return nil, nil, false
	}
	if n > uint64(len(b)-k) {
		return nil, nil, false
	}
	end := k + int(n)
	return b[k:end], b[end:], true
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

// errTrailingBytes reports a spooled event longer than its fields.
var errTrailingBytes = errors.New("spooled event has bytes after its fields")
