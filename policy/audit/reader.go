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
}

// NewEntry decodes the fields of the stream entry id.
func NewEntry(id string, fields map[string]string) Entry {
	ev, err := ParseFields(fields)
	return Entry{ID: id, Fields: fields, Event: ev, Err: err}
}

// entryFromMessage converts a go-redis stream message. Values that are not
// strings, which Redis never returns for stream fields, make the entry
// malformed.
func entryFromMessage(m redis.XMessage) Entry {
	fields := make(map[string]string, len(m.Values))
	for k, v := range m.Values {
		s, ok := v.(string)
		if !ok {
			return Entry{ID: m.ID, Fields: fields, Err: fmt.Errorf("field '%s' is not a string", truncate(k))}
		}
		fields[k] = s
	}
	return NewEntry(m.ID, fields)
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
		msgs, err := client.XRangeN(ctx, stream, start, "+", pageSize).Result()
		if err != nil {
			return fmt.Errorf("reading audit stream '%s' from '%s': %w", stream, start, err)
		}
		for _, m := range msgs {
			if err := fn(entryFromMessage(m)); err != nil {
				return err
			}
		}
		if int64(len(msgs)) < pageSize {
			return nil
		}
		// "(" makes the next page start after the last id (Redis 6.2 and later).
		start = "(" + msgs[len(msgs)-1].ID
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
