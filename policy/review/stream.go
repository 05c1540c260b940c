package review

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/policy/audit"
)

// Evidence file names written by CollectAudit, relative to the evidence
// directory.
const (
	AuditExportFile = "audit-export.jsonl"
	AlertsFile      = "alerts.jsonl"
)

// CollectOptions configures CollectAudit.
type CollectOptions struct {
	Stream   string    // the audit stream key
	Start    time.Time // period start, inclusive
	End      time.Time // period end, inclusive
	ChainKey []byte    // HMAC key of the chains, at least 16 bytes

	// Dir is the evidence directory, which must exist. AuditExportFile
	// and AlertsFile are created in it.
	Dir string

	// Observe, when set, receives every event of the period that
	// decodes, in stream order. The event is reused after Observe
	// returns.
	Observe func(*audit.Event)
}

// CollectAudit reads the audit stream once, from its first entry to its
// end. Entries whose stream id falls in the period are exported as JSON
// Lines (alerts also to their own file) and passed to Observe. Every
// entry from the period start to the end of the stream is verified, with
// the watermarks read before the stream, so that entries removed after
// the period's last entry are found too. The export file is then read
// back and verified again. Stream ids carry Redis's clock, so the period
// is judged by the Redis server's time.
func CollectAudit(ctx context.Context, client redis.Cmdable, opts CollectOptions) (_ *AuditResult, err error) {
	defer func() {
		// WriteEvidence writes empty files in place of a failed collection.
		if err != nil {
			os.Remove(filepath.Join(opts.Dir, AuditExportFile))
			os.Remove(filepath.Join(opts.Dir, AlertsFile))
		}
	}()
	start := streamID{ms: unixMilli(opts.Start)}
	end := streamID{ms: unixMilli(opts.End), seq: 1<<64 - 1}
	res := &AuditResult{
		Stream:        opts.Stream,
		PeriodStartID: formatStreamID(start),
		PeriodEndID:   formatStreamID(end),
		Export:        ExportInfo{File: AuditExportFile},
	}

	info, err := readStreamInfo(ctx, client, opts.Stream)
	if err != nil {
		return nil, err
	}
	res.Info = info
	res.Watermarks, err = audit.ReadWatermarks(ctx, client, opts.Stream)
	if err != nil {
		return nil, err
	}
	verifier, err := audit.NewVerifier(opts.ChainKey)
	if err != nil {
		return nil, err
	}

	export, err := newHashedFile(filepath.Join(opts.Dir, AuditExportFile))
	if err != nil {
		return nil, err
	}
	defer export.file.Close()
	alerts, err := newHashedFile(filepath.Join(opts.Dir, AlertsFile))
	if err != nil {
		return nil, err
	}
	defer alerts.file.Close()

	tally := newInstanceTally()
	var line []byte
	err = audit.ReadStream(ctx, client, opts.Stream, "-", 0, func(e audit.Entry) error {
		instance, seq := entryPosition(&e)
		id, ok := parseStreamID(e.ID)
		if ok && id.less(start) {
			res.EntriesBefore++
			tally.before(instance, seq)
			return nil
		}
		verifier.Add(e)
		tally.fromStart(instance, seq)
		if ok && end.less(id) {
			res.EntriesAfter++
			return nil
		}

		res.EntriesInPeriod++
		tally.inPeriod(instance, seq)
		line = audit.AppendJSONLine(line[:0], e)
		if err := export.write(line); err != nil {
			return err
		}
		if e.Err != nil {
			return nil
		}
		if e.Event.Module == audit.ModuleAlert {
			res.Alerts++
			if err := alerts.write(line); err != nil {
				return err
			}
		}
		if opts.Observe != nil {
			opts.Observe(&e.Event)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	marks := tally.watermarksFromStart(res.Watermarks)
	verifier.SetWatermarks(marks)
	res.Verification = summarizeVerification(verifier.Report())

	if res.Export.SHA256, err = export.finish(); err != nil {
		return nil, err
	}
	if _, err = alerts.finish(); err != nil {
		return nil, err
	}
	res.Export.Lines = res.EntriesInPeriod

	// The export reaches the end of the stream only when nothing came
	// after the period; only then do the watermarks apply to it.
	if res.EntriesAfter > 0 {
		marks = nil
	}
	if err := res.verifyExport(filepath.Join(opts.Dir, AuditExportFile), opts.ChainKey, marks); err != nil {
		return nil, err
	}
	res.Instances = tally.summaries(res.Watermarks)
	return res, nil
}

// verifyExport reads the written export back and verifies it alone.
func (res *AuditResult) verifyExport(path string, chainKey []byte, marks map[string]uint64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading the audit export back: %w", err)
	}
	defer f.Close()
	v, err := audit.NewVerifier(chainKey)
	if err != nil {
		return err
	}
	h := sha256.New()
	err = audit.ReadJSONLines(io.TeeReader(f, h), func(e audit.Entry) error {
		res.Export.ReadBack++
		v.Add(e)
		return nil
	})
	if err != nil {
		res.Export.ReadError = err.Error()
	}
	v.SetWatermarks(marks)
	res.ExportVerification = summarizeVerification(v.Report())
	res.Export.ReadBackSHA256 = hex.EncodeToString(h.Sum(nil))
	return nil
}

func readStreamInfo(ctx context.Context, client redis.Cmdable, stream string) (*StreamInfo, error) {
	xi, err := client.XInfoStream(ctx, stream).Result()
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "no such key") {
			return &StreamInfo{Missing: true}, nil
		}
		return nil, fmt.Errorf("reading XINFO STREAM of '%s': %w", stream, err)
	}
	return &StreamInfo{
		Length:          xi.Length,
		EntriesAdded:    xi.EntriesAdded,
		FirstID:         xi.FirstEntry.ID,
		LastID:          xi.LastEntry.ID,
		LastGeneratedID: xi.LastGeneratedID,
		MaxDeletedID:    xi.MaxDeletedEntryID,
	}, nil
}

// entryPosition returns an entry's instance and seq, read from the raw
// fields when the entry does not decode.
func entryPosition(e *audit.Entry) (string, uint64) {
	if e.Err == nil {
		return e.Event.Instance, e.Event.Seq
	}
	seq, _ := strconv.ParseUint(e.Fields["seq"], 10, 64)
	return e.Fields["instance"], seq
}

// hashedFile is an evidence file written through a buffer and a SHA-256.
type hashedFile struct {
	file *os.File
	buf  *bufio.Writer
	sum  hash.Hash
}

func newHashedFile(path string) (*hashedFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, evidenceFileMode)
	if err != nil {
		return nil, fmt.Errorf("creating evidence file: %w", err)
	}
	h := sha256.New()
	return &hashedFile{file: f, buf: bufio.NewWriter(io.MultiWriter(f, h)), sum: h}, nil
}

func (hf *hashedFile) write(p []byte) error {
	if _, err := hf.buf.Write(p); err != nil {
		return fmt.Errorf("writing '%s': %w", hf.file.Name(), err)
	}
	return nil
}

// finish flushes, syncs and closes the file and returns its SHA-256.
func (hf *hashedFile) finish() (string, error) {
	err := errors.Join(hf.buf.Flush(), hf.file.Sync(), hf.file.Close())
	if err != nil {
		return "", fmt.Errorf("writing '%s': %w", hf.file.Name(), err)
	}
	return hex.EncodeToString(hf.sum.Sum(nil)), nil
}

// unixMilli returns t in Unix milliseconds, 0 for a time before 1970.
func unixMilli(t time.Time) uint64 {
	return uint64(max(t.UnixMilli(), 0))
}

// streamID is a Redis stream entry id, milliseconds and a sequence.
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) (streamID, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return streamID{ms, seq}, err1 == nil && err2 == nil
}

func formatStreamID(id streamID) string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || id.ms == o.ms && id.seq < o.seq
}
