package auditcli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/awra/awragate/policy/audit"
)

// ExportArgs holds the flags of 'awragate audit export', as typed.
type ExportArgs struct {
	Source

	// Since and Until bound the event time (the ts field): Since is
	// inclusive and Until exclusive. Each is an RFC 3339 time or a
	// duration back from now (see ParseTime). Empty means unbounded.
	Since string
	Until string

	// KeyID, Decision and Module keep only entries with exactly that
	// key_id, decision (allow or deny) and module. Empty keeps all.
	KeyID    string
	Decision string
	Module   string

	// Out is the JSON Lines file to write. Required. An existing file is
	// replaced.
	Out string
}

// exportFilter selects the entries of an export.
type exportFilter struct {
	since, until time.Time // zero when unbounded
	keyID        string
	decision     string
	module       string
}

// filter checks the flags and returns the filter they describe.
func (a *ExportArgs) filter(now time.Time) (exportFilter, error) {
	var f exportFilter
	var err error
	if a.Out == "" {
		return f, errors.New("missing --out: name the JSON Lines file to write, for example --out audit.jsonl")
	}
	if a.Since != "" {
		if f.since, err = ParseTime("--since", a.Since, now); err != nil {
			return f, err
		}
	}
	if a.Until != "" {
		if f.until, err = ParseTime("--until", a.Until, now); err != nil {
			return f, err
		}
	}
	if !f.since.IsZero() && !f.until.IsZero() && !f.since.Before(f.until) {
		return f, fmt.Errorf("--since '%s' is not before --until '%s': the window %s to %s is empty; swap them or widen it",
			a.Since, a.Until, f.since.Format(time.RFC3339), f.until.Format(time.RFC3339))
	}
	if err := checkDecision(a.Decision); err != nil {
		return f, err
	}
	if err := checkModule(a.Module); err != nil {
		return f, err
	}
	f.keyID, f.decision, f.module = a.KeyID, a.Decision, a.Module
	return f, nil
}

// keep reports whether e passes the filter. An entry that does not decode
// is judged by its raw fields, and kept when its ts cannot be read, so that
// an export keeps the evidence that verify rejects.
func (f *exportFilter) keep(e audit.Entry) bool {
	fields := e.Fields
	if f.keyID != "" && fields["key_id"] != f.keyID {
		return false
	}
	if f.decision != "" && fields["decision"] != f.decision {
		return false
	}
	if f.module != "" && fields["module"] != f.module {
		return false
	}
	if f.since.IsZero() && f.until.IsZero() {
		return true
	}

	ts := e.Event.TS
	if e.Err != nil {
		parsed, err := time.Parse(time.RFC3339Nano, fields["ts"])
		if err != nil {
			return true
		}
		ts = parsed
	}
	if !f.since.IsZero() && ts.Before(f.since) {
		return false
	}
	return f.until.IsZero() || ts.Before(f.until)
}

// Export writes the entries of the stream that pass the filters to a.Out
// as JSON Lines (see audit.AppendJSONLine), in stream order, and prints a
// count on Stderr. The file is written beside its final path and renamed
// over it, with mode 0600, so a reader never sees half an export. Entries
// that do not decode are exported as stored and counted in the note.
//
// Filters by key, decision or module leave gaps in the chains, so only an
// export without them can pass 'audit verify --from-file'. Events of
// different requests reach the chain in a slightly different order than
// their ts, so the edges of a time window can cut a chain too.
func (r *Runner) Export(ctx context.Context, a ExportArgs) error {
	f, err := a.filter(r.now())
	if err != nil {
		return err
	}
	client, stream, err := r.connect(ctx, a.Source)
	if err != nil {
		return err
	}
	defer client.Close()

	var read, written, malformed int
	err = writeFileAtomic(a.Out, func(w io.Writer) error {
		var line []byte
		return audit.ReadStream(ctx, client, stream, "", 0, func(e audit.Entry) error {
			read++
			if !f.keep(e) {
				return nil
			}
			if e.Err != nil {
				malformed++
			}
			line = audit.AppendJSONLine(line[:0], e)
			written++
			if _, err := w.Write(line); err != nil {
				return fmt.Errorf("writing export '%s': %w", a.Out, err)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}

	fmt.Fprintf(r.Stderr, "exported %d of %d entries of stream '%s' to '%s'\n", written, read, stream, a.Out)
	if malformed > 0 {
		fmt.Fprintf(r.Stderr, "warning: %d exported entries do not decode as audit events; run 'awragate audit verify' to locate them\n", malformed)
	}
	return nil
}

// writeFileAtomic writes path through fill: into a temporary file with
// mode 0600 in the same directory, synced, then renamed over path. On any
// error the temporary file is removed and path is left as it was.
func writeFileAtomic(path string, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("--out '%s': %w; give a file in an existing, writable directory", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("writing '%s': %w", tmp.Name(), err)
	}
	bw := bufio.NewWriterSize(tmp, 256<<10)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing '%s': %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing '%s': %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing '%s': %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--out '%s': %w", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable. Errors are ignored: the file is
// complete either way, and some file systems cannot sync a directory.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
