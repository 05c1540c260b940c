package audit

import (
	"bytes"
	"maps"
	"math"
	"strings"
	"testing"
)

// Fuzz inputs for ParseFields encode a field map as "name\x01value"
// pairs separated by "\x00".
func encodeFieldMap(m map[string]string) string {
	var b strings.Builder
	first := true
	for _, name := range FieldNames {
		if v, ok := m[name]; ok {
			if !first {
				b.WriteByte(0)
			}
			first = false
			b.WriteString(name + "\x01" + v)
		}
	}
	return b.String()
}

func decodeFieldMap(s string) map[string]string {
	m := map[string]string{}
	for _, pair := range strings.Split(s, "\x00") {
		name, value, _ := strings.Cut(pair, "\x01")
		m[name] = value
	}
	return m
}

// FuzzParseFields checks that ParseFields never panics and that whatever
// it accepts re-encodes to exactly the input, which Verify relies on.
func FuzzParseFields(f *testing.F) {
	ev := sampleEvent()
	ev.Hash = strings.Repeat("0f", 32)
	f.Add(encodeFieldMap(ev.Fields()))
	ev.Seq, ev.PrevHash = 1, ""
	f.Add(encodeFieldMap(ev.Fields()))
	f.Add("v\x011\x00seq\x0101")

	f.Fuzz(func(t *testing.T, s string) {
		in := decodeFieldMap(s)
		got, err := ParseFields(in)
		if err != nil {
			return
		}
		if out := got.Fields(); !maps.Equal(out, in) {
			t.Fatalf("ParseFields(%q) accepted fields that re-encode as %q", in, out)
		}
	})
}

// FuzzReadJSONLines checks that exports of any content read back without
// panics, that what reads back exports again to the same entries, and that
// Verify copes with the result.
func FuzzReadJSONLines(f *testing.F) {
	ev := sampleEvent()
	ev.Hash = strings.Repeat("0f", 32)
	f.Add(AppendJSONLine(nil, NewEntry("1-0", ev.Fields())))
	f.Add([]byte(`{"stream_id":"1-0","v":"1","extra":"x"}` + "\n\n" + `{"stream_id":"2-0"}`))
	f.Add([]byte(`{"stream_id":"1-0","v":null}`))
	f.Add([]byte(`[1,2]`))

	key := testChainKey(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var entries []Entry
		err := ReadJSONLines(bytes.NewReader(data), func(e Entry) error {
			entries = append(entries, e)
			return nil
		})
		if err != nil {
			return
		}

		var again []byte
		for _, e := range entries {
			again = AppendJSONLine(again, e)
		}
		var round []Entry
		if err := ReadJSONLines(bytes.NewReader(again), func(e Entry) error {
			round = append(round, e)
			return nil
		}); err != nil {
			t.Fatalf("re-reading an export of %q: %v", data, err)
		}
		if len(round) != len(entries) {
			t.Fatalf("re-read %d entries, want %d", len(round), len(entries))
		}
		for i := range round {
			if round[i].ID != entries[i].ID || !maps.Equal(round[i].Fields, entries[i].Fields) {
				t.Fatalf("entry %d re-read as %+v, want %+v", i, round[i], entries[i])
			}
		}

		if _, err := Verify(entries, key); err != nil {
			t.Fatalf("Verify() error = %v", err)
		}
	})
}

// FuzzDecodeRecord checks that format 1 spool records, which Open
// converts, decode without panics and survive encoding and decoding
// unchanged.
func FuzzDecodeRecord(f *testing.F) {
	ev := sampleEvent()
	v := ev.values()
	f.Add(encodeRecord(nil, 1700000000000000000, &v))
	f.Add([]byte{recordFormat, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{2})

	f.Fuzz(func(t *testing.T, data []byte) {
		at, v, err := decodeRecord(data)
		if err != nil {
			return
		}
		at2, v2, err := decodeRecord(encodeRecord(nil, at, &v))
		if err != nil || at2 != at || v2 != v {
			t.Fatalf("decodeRecord(%x) = %d %q, and again after encoding = %d %q, %v", data, at, v, at2, v2, err)
		}
	})
}

// FuzzSegment checks that segments read from the spool never panic the
// publisher, that it accepts exactly the segments the reference decoder
// (decodeSegment) accepts, with the same values, and that a decoded segment
// encodes back to events with the same values.
func FuzzSegment(f *testing.F) {
	var b segmentBuilder
	b.reset(1700000000000000000)
	for i := 0; i < 3; i++ {
		ev := sampleEvent()
		ev.Seq = uint64(5 + i)
		ev.Detail = strings.Repeat("d", i*20)
		v := ev.values()
		b.add(uint64(5+i), &v)
	}
	_ = b.segments(func(first uint64, value []byte) error {
		f.Add(first, bytes.Clone(value))
		return nil
	})
	f.Add(uint64(1), []byte{segmentFormat, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff})
	f.Add(uint64(0), []byte{segmentFormat})

	f.Fuzz(func(t *testing.T, first uint64, value []byte) {
		key := encodeSeq(first)
		want, err := decodeSegment(key, value)
		var pb packedBatch
		pb.reset()
		seg, packErr := parseSegment(key, value)
		if packErr == nil {
			packErr = seg.pack(0, math.MaxInt, &pb)
		}
		if (err == nil) != (packErr == nil) {
			t.Fatalf("decodeSegment(%d, %x) error = %v, but packing it gives %v", first, value, err, packErr)
		}
		if err != nil {
			return
		}
		packed, perr := unpackBatch(pb.finish())
		if perr != nil || len(packed) != len(want) || pb.first != first || pb.firstAt != want[0].spooledAt {
			t.Fatalf("segment %d %x packs as %d events, %v (first %d, spooled at %d); want %d from %d", first, value,
				len(packed), perr, pb.first, pb.firstAt, len(want), first)
		}
		var again segmentBuilder
		again.reset(want[0].spooledAt)
		for i := range want {
			if strings.Join(packed[i], "\x00") != strings.Join(want[i].values[:], "\x00") {
				t.Fatalf("event %d packs as %q, want %q", i, packed[i], want[i].values)
			}
			again.add(want[i].seq, &want[i].values)
		}
		_ = again.segments(func(first uint64, value []byte) error {
			events, err := decodeSegment(encodeSeq(first), value)
			for i := range events {
				if err != nil || events[i] != want[int(events[i].seq-want[0].seq)] {
					t.Fatalf("re-encoded segment decodes as %v, %v; want %v", events, err, want)
				}
			}
			return err
		})
	})
}
