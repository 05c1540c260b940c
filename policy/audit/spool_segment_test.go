package audit

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// segmentedSpool returns a spool containing seqs 1 to 40 in segments of 10,
// 1 and 29 events.
func segmentedSpool(t *testing.T) *spool {
	t.Helper()
	saved := maxSegmentBytes
	maxSegmentBytes = 1 << 20
	t.Cleanup(func() { maxSegmentBytes = saved })
	path := filepath.Join(t.TempDir(), SpoolFileName)
	s, _, _, err := openSpool(path, time.Second, time.Now(), "test")
	if err != nil {
		t.Fatalf("openSpool() error = %v", err)
	}
	t.Cleanup(func() { _ = s.close() })

	var b segmentBuilder
	seq := uint64(0)
	for _, n := range []int{10, 1, 29} {
		b.reset(int64(seq))
		for i := 0; i < n; i++ {
			seq++
			ev := requestEvent(int(seq))
			ev.Seq = seq
			v := ev.values()
			b.add(seq, &v)
		}
		if _, err := s.appendSegments(&b, seq, ""); err != nil {
			t.Fatalf("appendSegments(up to seq %d) error = %v", seq, err)
		}
	}
	return s
}

// The publisher reads from any seq, including one inside a segment, and
// stops at its batch size.
func TestReadPackedStartsInsideSegments(t *testing.T) {
	s := segmentedSpool(t)
	for _, after := range []uint64{0, 1, 9, 10, 11, 12, 25, 39, 40, 50} {
		for _, max := range []int{1, 3, 100} {
			var pb packedBatch
			if err := s.readPacked(after, max, &pb); err != nil {
				t.Fatalf("readPacked(%d, %d) error = %v", after, max, err)
			}
			want := min(40, after+uint64(max)) - min(after, 40)
			if uint64(pb.count) != want {
				t.Fatalf("readPacked(%d, %d) = %d events, want %d", after, max, pb.count, want)
			}
			if want == 0 {
				continue
			}
			events, err := unpackBatch(pb.finish())
			if err != nil {
				t.Fatalf("readPacked(%d, %d): unpacking: %v", after, max, err)
			}
			for i, values := range events {
				if got, wantSeq := values[fieldSeq], after+1+uint64(i); got != formatUint(wantSeq) {
					t.Fatalf("readPacked(%d, %d) event %d has seq %s, want %d", after, max, i, got, wantSeq)
				}
			}
			if pb.first != after+1 || pb.last != after+want {
				t.Fatalf("readPacked(%d, %d) covers seqs %d to %d, want %d to %d", after, max, pb.first, pb.last, after+1, after+want)
			}
		}
	}
}

// Pruning deletes whole segments only, so a segment that still contains a
// later event stays.
func TestSaveCursorPrunesWholeSegments(t *testing.T) {
	for _, tt := range []struct {
		pruneTo   uint64
		wantFirst uint64
	}{
		{0, 1},
		{9, 1},
		{10, 11},
		{11, 12},
		{39, 12},
		{40, 0},
	} {
		s := segmentedSpool(t)
		more, _, err := s.saveCursor(40, tt.pruneTo)
		if err != nil || more {
			t.Fatalf("saveCursor(40, %d) = more %v, %v; want false, nil", tt.pruneTo, more, err)
		}
		if first, err := s.firstSeq(); err != nil || first != tt.wantFirst {
			t.Fatalf("after saveCursor(40, %d), firstSeq() = %d, %v; want %d", tt.pruneTo, first, err, tt.wantFirst)
		}
	}
}

func formatUint(n uint64) string { return strconv.FormatUint(n, 10) }

// One save deletes at most maxPruneSegments segments and reports that
// more are due.
func TestSaveCursorPrunesInSteps(t *testing.T) {
	path := filepath.Join(t.TempDir(), SpoolFileName)
	s, _, _, err := openSpool(path, time.Second, time.Now(), "test")
	if err != nil {
		t.Fatalf("openSpool() error = %v", err)
	}
	defer s.close()
	// With this bound every event gets a segment of its own.
	saved := maxSegmentBytes
	maxSegmentBytes = 1
	defer func() { maxSegmentBytes = saved }()
	total := uint64(maxPruneSegments + 10)
	var b segmentBuilder
	b.reset(0)
	for seq := uint64(1); seq <= total; seq++ {
		ev := requestEvent(int(seq))
		ev.Seq = seq
		v := ev.values()
		b.add(seq, &v)
	}
	if _, err := s.appendSegments(&b, total, ""); err != nil {
		t.Fatalf("appendSegments() error = %v", err)
	}

	more, _, err := s.saveCursor(total, total)
	if first, _ := s.firstSeq(); err != nil || !more || first != maxPruneSegments+1 {
		t.Fatalf("first saveCursor() = more %v, %v, first seq left %d; want true, nil, %d", more, err, first, maxPruneSegments+1)
	}
	more, _, err = s.saveCursor(total, total)
	if first, _ := s.firstSeq(); err != nil || more || first != 0 {
		t.Fatalf("second saveCursor() = more %v, %v, first seq left %d; want false, nil, an empty spool", more, err, first)
	}
}

// A commit's events are split into segments of at most maxSegmentBytes,
// except that an event larger than that gets a segment of its own, and
// every event reads back with its seq and values.
func TestSegmentBuilderSplitsBySize(t *testing.T) {
	var b segmentBuilder
	b.reset(99)
	var want []fieldValues
	for i := 0; i < 40; i++ {
		ev := requestEvent(i)
		ev.Seq = uint64(1000 + i)
		if i == 17 {
			ev.Detail = strings.Repeat("x", 3*maxSegmentBytes)
		}
		v := ev.values()
		b.add(ev.Seq, &v)
		want = append(want, v)
	}

	var got []spooledEvent
	segments := 0
	err := b.segments(func(first uint64, value []byte) error {
		segments++
		events, err := decodeSegment(encodeSeq(first), value)
		if err != nil {
			return err
		}
		if len(value) > maxSegmentBytes && len(events) > 1 {
			t.Errorf("segment at seq %d contains %d events in %d bytes, over maxSegmentBytes %d", first, len(events), len(value), maxSegmentBytes)
		}
		got = append(got, events...)
		return nil
	})
	if err != nil {
		t.Fatalf("decoding the segments: %v", err)
	}
	if segments < 3 || len(got) != len(want) {
		t.Fatalf("%d segments with %d events, want several with %d", segments, len(got), len(want))
	}
	for i := range got {
		if got[i].seq != uint64(1000+i) || got[i].values != want[i] || got[i].spooledAt != 99 {
			t.Fatalf("event %d read back as seq %d spooled at %d, values %q; want seq %d at 99, %q",
				i, got[i].seq, got[i].spooledAt, got[i].values, 1000+i, want[i])
		}
	}
}

// Segments that overlap or leave a gap are an error, so that the cursor
// never moves past events the stream did not get.
func TestReadPackedRejectsOverlapAndGap(t *testing.T) {
	for _, tt := range []struct {
		name  string
		first uint64
	}{
		{"overlap", 5},
		{"gap", 50},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := segmentedSpool(t)
			var b segmentBuilder
			b.reset(0)
			for seq := tt.first; seq < tt.first+2; seq++ {
				ev := requestEvent(int(seq))
				ev.Seq = seq
				v := ev.values()
				b.add(seq, &v)
			}
			if _, err := s.appendSegments(&b, 40, ""); err != nil {
				t.Fatalf("appendSegments() error = %v", err)
			}
			var pb packedBatch
			if err := s.readPacked(0, 1000, &pb); err == nil {
				t.Fatalf("readPacked() over a segment at seq %d = %d events, nil; want an error", tt.first, pb.count)
			}
		})
	}
}
