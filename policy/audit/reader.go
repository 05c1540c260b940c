package audit

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// DefaultPageSize is the number of entries ReadStream requests per XRANGE.
const DefaultPageSize = 1000

// Entry is one stream entry as read back for export or verification.
type Entry struct {
	ID     string            // stream entry id, e.g. "1700000000000-0"
	Fields map[string]string // the entry's fields as stored
	Event  Event             // the decoded event, valid when Err is nil
	Err    error             // decoding error of Fields, see ParseFields

	// Repeated holds the later occurrences of field names that the entry
	// stores more than once, as name and value in stored order; Fields
	// keeps the first. Such an entry is malformed: readers that keep
	// another occurrence would see a value the hash does not cover.
	Repeated [][2]string
}

// NewEntry decodes the fields of the stream entry id.
func NewEntry(id string, fields map[string]string) Entry {
	ev, err := ParseFields(fields)
	return Entry{ID: id, Fields: fields, Event: ev, Err: err}
}

// entryFromPairs builds the Entry with the given id from the field names
// and values of a raw XRANGE reply, keeping repeated names (see
// Entry.Repeated).
func entryFromPairs(id string, pairs []any) Entry {
	fields := make(map[string]string, len(pairs)/2)
	var repeated [][2]string
	for i := 0; i+1 < len(pairs); i += 2 {
		name, ok1 := pairs[i].(string)
		value, ok2 := pairs[i+1].(string)
		if !ok1 || !ok2 {
			return Entry{ID: id, Fields: fields, Err: fmt.Errorf("field %d is not a string", i/2+1)}
		}
		if _, seen := fields[name]; seen {
			repeated = append(repeated, [2]string{name, value})
			continue
		}
		fields[name] = value
	}
	e := NewEntry(id, fields)
	if len(pairs)%2 != 0 {
		e.Err = errors.New("the entry has a field name without a value")
	}
	if len(repeated) > 0 {
		e.Repeated = repeated
		e.Err = fmt.Errorf("field '%s' appears more than once", truncate(repeated[0][0]))
	}
	return e
}

// readRange reads up to count entries of stream from start with a raw
// XRANGE, because go-redis's stream messages keep only the last value of
// a repeated field name. It goes through a pipeline because redis.Cmdable
// has no Do.
func readRange(ctx context.Context, client redis.Cmdable, stream, start string, count int64) ([]Entry, error) {
	pipe := client.Pipeline()
	cmd := pipe.Do(ctx, "XRANGE", stream, start, "+", "COUNT", count)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	reply, err := cmd.Slice()
	if err != nil {
		return nil, err
	}
	entries := make([]Entry, 0, len(reply))
	for _, item := range reply {
		msg, ok := item.([]any)
		if !ok || len(msg) < 2 {
			return nil, fmt.Errorf("unexpected XRANGE reply element %T", item)
		}
		id, ok := msg[0].(string)
		if !ok {
			return nil, fmt.Errorf("unexpected XRANGE entry id %T", msg[0])
		}
		pairs, _ := msg[1].([]any) // nil for an entry without fields
		entries = append(entries, entryFromPairs(id, pairs))
	}
	return entries, nil
}

// ReadStream calls fn for each entry of stream with an id at or after
// start ("" or "-" for the beginning), in stream order, reading pageSize
// entries per XRANGE (DefaultPageSize when pageSize <= 0). It stops at the
// end of the stream as it was when the last page was read, or at the first
// error of fn, which it returns.
func ReadStream(ctx context.Context, client redis.Cmdable, stream, start string, pageSize int64, fn func(Entry) error) error {
	if start == "" {
		start = "-"
	}
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	for {
		entries, err := readRange(ctx, client, stream, start, pageSize)
		if err != nil {
			return fmt.Errorf("reading audit stream '%s' from '%s': %w", stream, start, err)
		}
		for _, e := range entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		if int64(len(entries)) < pageSize {
			return nil
		}
		// "(" makes the next page start after the last id (Redis 6.2 and later).
		start = "(" + entries[len(entries)-1].ID
	}
}

// ReadWatermarks returns the watermark hash of stream: for each instance,
// the highest seq the publisher added. Read it before the stream to give
// Verifier.SetWatermarks values the stream is sure to reach.
func ReadWatermarks(ctx context.Context, client redis.Cmdable, stream string) (map[string]uint64, error) {
	raw, err := client.HGetAll(ctx, stream+WatermarkSuffix).Result()
	if err != nil {
		return nil, fmt.Errorf("reading audit watermarks of '%s': %w", stream, err)
	}
	out := make(map[string]uint64, len(raw))
	for instance, v := range raw {
		seq, err := parseCanonicalUint(v)
		if err != nil {
			return nil, fmt.Errorf("invalid audit watermark '%s' of instance '%s': expected a decimal seq", truncate(v), truncate(instance))
		}
		out[instance] = seq
	}
	return out, nil
}

// readWatermark returns Redis's watermark for this pipeline's instance, 0
// when there is none.
func (p *Pipeline) readWatermark(ctx context.Context) (uint64, error) {
	v, err := p.client.HGet(ctx, p.watermark, p.instance).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	seq, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid audit watermark '%s' of instance '%s' in '%s': expected a decimal seq", truncate(v), p.instance, p.watermark)
	}
	return seq, nil
}
