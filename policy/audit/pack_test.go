package audit

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// unpackBatch reads a packed batch back: an array of arrays of strings,
// in the formats pack.go writes. It fails on anything else, so a test
// also catches a format that the script's decoder might not read.
func unpackBatch(b []byte) ([][]string, error) {
	n, rest, ok := readArrayHeader(b)
	if !ok {
		return nil, fmt.Errorf("no array header at the start of %x", b[:min(len(b), 5)])
	}
	b = rest
	out := make([][]string, 0, n)
	for i := 0; i < n; i++ {
		var m int
		if m, b, ok = readArrayHeader(b); !ok {
			return nil, fmt.Errorf("event %d: no array header", i)
		}
		values := make([]string, m)
		var err error
		for j := range values {
			if values[j], b, err = readStr(b); err != nil {
				return nil, fmt.Errorf("event %d field %d: %w", i, j, err)
			}
		}
		out = append(out, values)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the batch", len(b))
	}
	return out, nil
}

func readStr(b []byte) (string, []byte, error) {
	var n, k int
	switch {
	case len(b) >= 1 && b[0]&0xe0 == mpFixStr:
		n, k = int(b[0]&0x1f), 1
	case len(b) >= 3 && b[0] == mpStr16:
		n, k = int(binary.BigEndian.Uint16(b[1:])), 3
	case len(b) >= 5 && b[0] == mpStr32:
		n, k = int(binary.BigEndian.Uint32(b[1:])), 5
	default:
		return "", nil, fmt.Errorf("no string header in %x", b[:min(len(b), 5)])
	}
	if len(b)-k < n {
		return "", nil, fmt.Errorf("string of %d bytes truncated to %d", n, len(b)-k)
	}
	return string(b[k : k+n]), b[k+n:], nil
}

func TestPackedBatchRoundTrip(t *testing.T) {
	var pb packedBatch
	pb.reset()
	var want [][]string
	// Values of every length class: empty, fixstr's 31-byte limit, str 16
	// and str 32.
	for i, size := range []int{0, 31, 32, 0xffff, 0x10000} {
		ev := sampleEvent()
		ev.Seq = uint64(100 + i)
		ev.Detail = strings.Repeat("d", size)
		v := ev.values()
		if err := pb.add(ev.Seq, int64(1000+i), appendPackedEvent(nil, &v)); err != nil {
			t.Fatalf("add(seq %d) = %v", ev.Seq, err)
		}
		want = append(want, v[:])
	}
	if pb.count != 5 || pb.first != 100 || pb.last != 104 || pb.firstAt != 1000 {
		t.Fatalf("batch = %d events, seqs %d to %d, first spooled at %d; want 5, 100 to 104, 1000",
			pb.count, pb.first, pb.last, pb.firstAt)
	}

	got, err := unpackBatch(pb.finish())
	if err != nil {
		t.Fatalf("unpacking the batch: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("unpacked %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if strings.Join(got[i], "\x00") != strings.Join(want[i], "\x00") {
			t.Fatalf("event %d unpacked as %q, want %q", i, got[i], want[i])
		}
	}

	names, err := unpackBatch(append([]byte{mpFixArray | 1}, packedFieldNames...))
	if err != nil || strings.Join(names[0], ",") != strings.Join(FieldNames[:], ",") {
		t.Fatalf("packedFieldNames unpacks as %q, %v; want FieldNames", names, err)
	}
}

// A malformed spooled event is refused and leaves the batch as it was.
func TestPackedBatchRejectsBadEvents(t *testing.T) {
	ev := sampleEvent()
	v := ev.values()
	good := appendPackedEvent(nil, &v)
	short := appendArrayHeader(nil, numFields-1)
	for _, s := range v[:numFields-1] {
		short = appendStr(short, s)
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not an array", append([]byte{mpFixStr | 1}, 'x')},
		{"one field short", short},
		{"a field that is not a string", append(append([]byte{}, good[:3]...), 0xc0)},
		{"truncated value", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"string length beyond the event", append(append([]byte{}, good[:3]...), mpStr32, 0xff, 0xff, 0xff, 0xff, 'a')},
		// The event of the previous seq, where the next one belongs.
		{"seq field of another seq", good},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var pb packedBatch
			pb.reset()
			if err := pb.add(ev.Seq, 42, good); err != nil {
				t.Fatalf("add(good) = %v", err)
			}
			before := string(pb.data)
			if err := pb.add(ev.Seq+1, 42, tt.data); err == nil {
				t.Fatalf("add(%x) error = nil, want an error", tt.data)
			}
			if string(pb.data) != before || pb.count != 1 || pb.last != ev.Seq {
				t.Fatalf("a refused event changed the batch: %d events, last seq %d", pb.count, pb.last)
			}
		})
	}
}

func BenchmarkPackEvent(b *testing.B) {
	ev := sampleEvent()
	v := ev.values()
	event := appendPackedEvent(nil, &v)
	var pb packedBatch
	pb.reset()
	b.ReportAllocs()
	b.SetBytes(int64(len(event)))
	for i := 0; b.Loop(); i++ {
		if i%512 == 0 {
			pb.reset()
		}
		if err := pb.add(ev.Seq, 42, event); err != nil {
			b.Fatal(err)
		}
	}
}
