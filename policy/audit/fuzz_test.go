package audit

import (
	"bytes"
	"maps"
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

// FuzzDecodeRecord checks that spool records decode without panics, that
// a decoded record survives encoding and decoding unchanged, and that the
// publisher's packer accepts exactly the records decodeRecord accepts, with
// the same values.
func FuzzDecodeRecord(f *testing.F) {
	ev := sampleEvent()
	v := ev.values()
	f.Add(encodeRecord(nil, 1700000000000000000, &v))
	f.Add([]byte{recordFormat, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{2})

	f.Fuzz(func(t *testing.T, data []byte) {
		at, v, err := decodeRecord(data)
		var pb packedBatch
		pb.reset()
		packErr := pb.add(7, data)
		if (err == nil) != (packErr == nil) {
			t.Fatalf("decodeRecord(%x) error = %v, but packing it gives %v", data, err, packErr)
		}
		if err != nil {
			return
		}
		packed, perr := unpackBatch(pb.finish())
		if perr != nil || len(packed) != 1 || pb.firstAt != at || strings.Join(packed[0], "\x00") != strings.Join(v[:], "\x00") {
			t.Fatalf("record %x packs as %q, %v (spooled at %d); want %q at %d", data, packed, perr, pb.firstAt, v, at)
		}
		at2, v2, err := decodeRecord(encodeRecord(nil, at, &v))
		if err != nil || at2 != at || v2 != v {
			t.Fatalf("decodeRecord(%x) = %d %q, and again after encoding = %d %q, %v", data, at, v, at2, v2, err)
		}
	})
}
