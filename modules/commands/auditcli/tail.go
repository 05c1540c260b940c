package auditcli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/policy/audit"
)

// DefaultTailCount is the default --count of tail.
const DefaultTailCount = 20

// followBlock is how long one XREAD of tail --follow waits for new
// entries. It bounds how long an interrupt takes to end the command.
const followBlock = time.Second

// followRetry is the pause after a failed read of tail --follow.
const followRetry = time.Second

// followPage is the most entries one XREAD of tail --follow returns.
const followPage = 1000

// TailArgs holds the flags of 'awragate audit tail'.
type TailArgs struct {
	Source

	// Count is how many of the newest entries to print first, from 0 to
	// MaxTailCount.
	Count int

	// Follow keeps reading and prints each new entry until ctx ends.
	Follow bool
}

// Tail prints the newest a.Count entries of the stream, oldest first, one
// line each (see FormatLine). With a.Follow it then prints new entries as
// they arrive until ctx ends, retrying once a second while Redis is
// unreachable. It reads with XREVRANGE and XREAD and changes nothing in
// Redis: it creates no consumer group.
func (r *Runner) Tail(ctx context.Context, a TailArgs) error {
	if a.Count < 0 || a.Count > MaxTailCount {
		return fmt.Errorf("--count '%d': invalid count: use a whole number from 0 to %d, for example --count 50", a.Count, MaxTailCount)
	}
	client, stream, err := r.connect(ctx, a.Source)
	if err != nil {
		return err
	}
	defer client.Close()

	out := bufio.NewWriter(r.Stdout)
	defer out.Flush()

	// At least one entry is read, even for --count 0, because --follow
	// starts after the newest one. "0-0" as the start of an empty stream
	// makes --follow print every entry added after this read.
	msgs, err := client.XRevRangeN(ctx, stream, "+", "-", int64(max(a.Count, 1))).Result()
	if err != nil {
		return fmt.Errorf("reading audit stream '%s': %w", stream, err)
	}
	lastID := "0-0"
	if len(msgs) > 0 {
		lastID = msgs[0].ID
	}
	for i := min(a.Count, len(msgs)) - 1; i >= 0; i-- {
		writeMessage(out, msgs[i])
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if !a.Follow {
		return nil
	}
	return r.follow(ctx, client, stream, lastID, out)
}

// follow prints entries after lastID until ctx ends.
func (r *Runner) follow(ctx context.Context, client *redis.Client, stream, lastID string, out *bufio.Writer) error {
	failing := false
	for ctx.Err() == nil {
		res, err := client.XRead(ctx, &redis.XReadArgs{
			Streams: []string{stream, lastID},
			Count:   followPage,
			Block:   followBlock,
		}).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue // no new entry within followBlock
		case errCanceled(ctx, err):
			return nil
		case err != nil:
			if !failing {
				failing = true
				fmt.Fprintf(r.Stderr, "reading audit stream '%s' failed: %v; retrying every %v\n", stream, err, followRetry)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(followRetry):
			}
			continue
		}
		if failing {
			failing = false
			fmt.Fprintf(r.Stderr, "reading audit stream '%s' again\n", stream)
		}

		for _, s := range res {
			for _, m := range s.Messages {
				writeMessage(out, m)
				lastID = m.ID
			}
		}
		if err := out.Flush(); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	return nil
}

// writeMessage writes one stream message as a tail line.
func writeMessage(out *bufio.Writer, m redis.XMessage) {
	fields := make(map[string]string, len(m.Values))
	for k, v := range m.Values {
		s, _ := v.(string)
		fields[k] = s
	}
	out.WriteString(FormatLine(audit.NewEntry(m.ID, fields)))
	out.WriteByte('\n')
}

// FormatLine returns one human-readable line for e, without a newline:
//
//	TIME INSTANCE:SEQ MODULE DECISION REASON STATUS key=KEY ip=CLIENT_IP req=REQUEST_ID METHOD HOST PATH LATENCY [detail=DETAIL]
//
// TIME is UTC with milliseconds. An empty value prints as "-". Values come
// from the stream, which anyone with write access to Redis can fill, so a
// value with spaces, quotes, control or other non-printing characters is
// printed Go-quoted and cannot move the cursor or fake a second line. An
// entry that does not decode prints its stream id and the decoding error.
func FormatLine(e audit.Entry) string {
	if e.Err != nil {
		return fmt.Sprintf("%s malformed entry: %s", showValue(e.ID), showValue(e.Err.Error()))
	}
	ev := &e.Event

	var b strings.Builder
	b.WriteString(ev.TS.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteByte(' ')
	b.WriteString(showValue(ev.Instance))
	b.WriteByte(':')
	b.WriteString(strconv.FormatUint(ev.Seq, 10))
	for _, v := range []string{string(ev.Module), string(ev.Decision), string(ev.Reason)} {
		b.WriteByte(' ')
		b.WriteString(showValue(v))
	}
	b.WriteByte(' ')
	if ev.Status == 0 {
		b.WriteByte('-')
	} else {
		b.WriteString(strconv.Itoa(ev.Status))
	}
	b.WriteString(" key=")
	b.WriteString(showValue(ev.KeyID))
	b.WriteString(" ip=")
	b.WriteString(showValue(ev.ClientIP))
	b.WriteString(" req=")
	b.WriteString(showValue(ev.RequestID))
	for _, v := range []string{ev.Method, ev.Host, ev.Path} {
		b.WriteByte(' ')
		b.WriteString(showValue(v))
	}
	b.WriteByte(' ')
	b.WriteString((time.Duration(ev.LatencyUS) * time.Microsecond).String())
	if ev.Detail != "" {
		b.WriteString(" detail=")
		b.WriteString(showValue(ev.Detail))
	}
	return b.String()
}

// showValue returns s as one safe token: "-" when empty, s itself when it
// is printable text without spaces or quotes, else s Go-quoted with every
// non-ASCII character escaped. A value of "-" is quoted, so that it cannot
// pass for an empty one.
func showValue(s string) string {
	switch s {
	case "":
		return "-"
	case "-":
		return `"-"`
	}
	for _, c := range s {
		if c == utf8.RuneError || c == '"' || c == '\\' || unicode.IsSpace(c) || !unicode.IsPrint(c) {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}
