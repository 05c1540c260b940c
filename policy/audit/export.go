package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/redis/go-redis/v9"
)

// StreamIDMember is the JSON member that holds the stream entry id in an
// exported line.
const StreamIDMember = "stream_id"

// MaxJSONLine is the longest line ReadJSONLines accepts, in bytes.
const MaxJSONLine = 1 << 20

// AppendJSONLine appends e to dst as one line of JSON Lines, ending in a
// newline. The line is an object whose first member is "stream_id",
// followed by the entry's fields in FieldNames order and then any other
// fields in name order, then the repeated occurrences of a field name
// (which makes the line repeat a member). Every value is a string as it
// was stored, and malformed entries are written as stored, so an export
// keeps the evidence that Verify rejects.
func AppendJSONLine(dst []byte, e Entry) []byte {
	dst = append(dst, '{')
	dst = appendJSONMember(dst, StreamIDMember, e.ID)
	for _, name := range FieldNames {
		if v, ok := e.Fields[name]; ok {
			dst = append(dst, ',')
			dst = appendJSONMember(dst, name, v)
		}
	}

	var extra []string
	for name := range e.Fields {
		if fieldIndex(name) < 0 {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		dst = append(dst, ',')
		dst = appendJSONMember(dst, name, e.Fields[name])
	}
	for _, pair := range e.Repeated {
		dst = append(dst, ',')
		dst = appendJSONMember(dst, pair[0], pair[1])
	}
	return append(dst, '}', '\n')
}

func appendJSONMember(dst []byte, name, value string) []byte {
	dst = appendJSONString(dst, name)
	dst = append(dst, ':')
	return appendJSONString(dst, value)
}

func appendJSONString(dst []byte, s string) []byte {
	// encoding/json cannot fail on a string. It writes invalid UTF-8 as
	// U+FFFD, which the writer never stores (see Event.sanitize).
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// Export writes every entry of stream to w as JSON Lines (see
// AppendJSONLine) and returns the number of entries written.
func Export(ctx context.Context, client redis.Cmdable, stream string, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	n := 0
	var line []byte
	err := ReadStream(ctx, client, stream, "", 0, func(e Entry) error {
		line = AppendJSONLine(line[:0], e)
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("writing audit export: %w", err)
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("writing audit export: %w", err)
	}
	return n, nil
}

// ReadJSONLines reads JSON Lines as written by AppendJSONLine and calls fn
// for each entry in order. Empty lines are skipped. A line that is not a
// JSON object of string members, lacks "stream_id" or is longer than
// MaxJSONLine bytes stops the read with an error naming the line. An object
// whose fields do not decode as an event is passed to fn with Entry.Err
// set, so Verify reports it.
func ReadJSONLines(r io.Reader, fn func(Entry) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxJSONLine)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		e, err := decodeJSONLine(line)
		if err != nil {
			return fmt.Errorf("audit export line %d: %w", lineNo, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("audit export has a line longer than %d bytes: %w", MaxJSONLine, err)
		}
		return fmt.Errorf("reading audit export: %w", err)
	}
	return nil
}

func decodeJSONLine(line []byte) (Entry, error) {
	// Reading tokens returns every member, whereas unmarshalling into a
	// map would keep only the last of a repeated name.
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Entry{}, errors.New("not a JSON object")
	}
	fields := make(map[string]string)
	var repeated [][2]string
	id := ""
	hasID := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Entry{}, fmt.Errorf("not a JSON object: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return Entry{}, errors.New("not a JSON object")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Entry{}, fmt.Errorf("not a JSON object: %w", err)
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil || bytes.Equal(raw, []byte("null")) {
			return Entry{}, fmt.Errorf("member '%s' is not a string", truncate(name))
		}
		if name == StreamIDMember {
			if hasID {
				return Entry{}, fmt.Errorf("member '%s' appears more than once", StreamIDMember)
			}
			id, hasID = v, true
			continue
		}
		if _, seen := fields[name]; seen {
			repeated = append(repeated, [2]string{name, v})
			continue
		}
		fields[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return Entry{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return Entry{}, errors.New("not a JSON object: data after the object")
	}
	if !hasID {
		return Entry{}, fmt.Errorf("member '%s' is missing", StreamIDMember)
	}
	e := NewEntry(id, fields)
	if len(repeated) > 0 {
		e.Repeated = repeated
		e.Err = fmt.Errorf("field '%s' appears more than once", truncate(repeated[0][0]))
	}
	return e, nil
}
