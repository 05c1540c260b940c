package auditcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/awra/awragate/policy/audit"
)

// VerifyArgs holds the flags of 'awragate audit verify'.
type VerifyArgs struct {
	Source

	// FromFile is a JSON Lines export to check instead of the stream.
	FromFile string

	// FailOnLoss makes declared gaps fail too: events_lost ranges and
	// events_dropped counts, which pass by default because the gateway
	// signed them.
	FailOnLoss bool
}

// ErrVerifyFailed is wrapped by the error Verify returns when it found a
// problem in a chain, as opposed to failing to read the entries.
var ErrVerifyFailed = errors.New("audit verify failed")

// Verify checks every instance chain of the stream, or of the export
// a.FromFile, with the chain key from ChainKeyEnv (see audit.Verifier): each
// hash, each link, seq order and continuity, with gaps accepted only where
// an events_lost event declares them. Reading from Redis, it reads the
// watermarks first, which lets it find entries missing from the end of a
// chain. A file has no watermarks, so its newest entries cannot be checked.
//
// It prints one summary line per instance on Stdout and each problem on
// Stderr, and returns an error wrapping ErrVerifyFailed that names the
// first bad entry: its stream id, instance, seq and what is wrong. Nothing
// to check (no entries and no watermarks) is an error too, because a
// wrong --stream or --redis would otherwise pass.
func (r *Runner) Verify(ctx context.Context, a VerifyArgs) error {
	key, err := r.chainKey()
	if err != nil {
		return err
	}
	v, err := audit.NewVerifier(key)
	if err != nil {
		return fmt.Errorf("%s: %w", ChainKeyEnv, err)
	}

	var source string
	if a.FromFile != "" {
		source, err = r.addFile(v, a.FromFile)
	} else {
		source, err = r.addStream(ctx, v, a.Source)
	}
	if err != nil {
		return err
	}

	rep := v.Report()
	r.printSummary(source, &rep, a.FromFile != "")
	if rep.Entries == 0 && len(rep.Instances) == 0 {
		return fmt.Errorf("nothing to verify: %s has no entries; check --stream and --redis, or --from-file", source)
	}
	if rep.Entries == 0 {
		// XADD MAXLEN never trims a stream to nothing, so watermarks
		// without a single entry mean the entries were removed.
		return fmt.Errorf("%w: %s has no entries, but redis's watermarks say %d instances published to it: the stream was deleted or emptied",
			ErrVerifyFailed, source, len(rep.Instances))
	}
	if rep.OK() {
		if a.FailOnLoss {
			if err := declaredLoss(&rep); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrVerifyFailed, source, err)
			}
		}
		fmt.Fprintf(r.Stdout, "ok: every chain is intact\n")
		return nil
	}

	for _, p := range rep.Problems {
		fmt.Fprintf(r.Stderr, "problem: %s\n", describeProblem(p))
	}
	if more := rep.ProblemCount - len(rep.Problems); more > 0 {
		fmt.Fprintf(r.Stderr, "problem: %d more not listed\n", more)
	}
	return fmt.Errorf("%w: %s in %s; the first: %s", ErrVerifyFailed, plural(rep.ProblemCount, "problem", "problems"), source, describeProblem(rep.Problems[0]))
}

// declaredLoss names the first instance whose chain declares lost or
// dropped events, or returns nil when none does.
func declaredLoss(rep *audit.Report) error {
	for i := range rep.Instances {
		in := &rep.Instances[i]
		if len(in.Lost) > 0 {
			l := in.Lost[0]
			return fmt.Errorf("instance %s declares seq %d-%d lost (--fail-on-loss)", showValue(in.Instance), l.From, l.To)
		}
		if in.Dropped > 0 {
			return fmt.Errorf("instance %s declares %d events dropped (--fail-on-loss)", showValue(in.Instance), in.Dropped)
		}
	}
	return nil
}

// addStream feeds the stream's entries to v after its watermarks, and
// returns a description of the source.
func (r *Runner) addStream(ctx context.Context, v *audit.Verifier, s Source) (string, error) {
	client, stream, err := r.connect(ctx, s)
	if err != nil {
		return "", err
	}
	defer client.Close()

	// Watermarks first: every seq they name was in the stream before the
	// read below started.
	marks, err := audit.ReadWatermarks(ctx, client, stream)
	if err != nil {
		return "", err
	}
	v.SetWatermarks(marks)
	err = audit.ReadStream(ctx, client, stream, "", 0, func(e audit.Entry) error {
		v.Add(e)
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("stream '%s'", stream), nil
}

// addFile feeds the entries of a JSON Lines export to v.
func (r *Runner) addFile(v *audit.Verifier, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--from-file '%s': %w; give a file written by 'awragate audit export'", path, err)
	}
	defer f.Close()
	err = audit.ReadJSONLines(f, func(e audit.Entry) error {
		v.Add(e)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("--from-file '%s': %w", path, err)
	}
	return fmt.Sprintf("file '%s'", path), nil
}

// printSummary writes the per-instance lines of rep.
func (r *Runner) printSummary(source string, rep *audit.Report, fromFile bool) {
	fmt.Fprintf(r.Stdout, "%s: %s, %s\n", source, plural(rep.Entries, "entry", "entries"), plural(len(rep.Instances), "instance", "instances"))
	for i := range rep.Instances {
		writeInstance(r.Stdout, &rep.Instances[i], fromFile)
	}
	if fromFile && rep.Entries > 0 {
		fmt.Fprintf(r.Stdout, "note: a file carries no watermarks, so entries missing after the last one of a chain cannot be detected\n")
	}
}

// writeInstance writes one summary line.
func writeInstance(w io.Writer, in *audit.InstanceReport, fromFile bool) {
	name := showValue(in.Instance)
	if in.Entries == 0 {
		fmt.Fprintf(w, "instance %s: no entries, watermark %d (trimmed by max_len, or removed)\n", name, in.Watermark)
		return
	}

	var b strings.Builder
	fmt.Fprintf(&b, "instance %s: %s, seq %d-%d", name, plural(in.Entries, "entry", "entries"), in.FirstSeq, in.LastSeq)
	if !in.FromGenesis {
		b.WriteString(" (older entries trimmed)")
	}
	if !fromFile {
		fmt.Fprintf(&b, ", watermark %d", in.Watermark)
	}
	fmt.Fprintf(&b, ", dropped %d, lost ", in.Dropped)
	if len(in.Lost) == 0 {
		b.WriteString("none")
	}
	for i, l := range in.Lost {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d-%d", l.From, l.To)
	}
	fmt.Fprintf(&b, ", unclean restarts %d, spool resets %d\n", in.Unclean, in.SpoolResets)
	io.WriteString(w, b.String())
}

// describeProblem formats p with its kind, for example
// "entry '1-0' (instance 'gw', seq 5): hash does not match ... [hash_mismatch]".
func describeProblem(p audit.Problem) string {
	return fmt.Sprintf("%s [%s]", p.Error(), p.Kind)
}

// plural returns n and the noun in the matching number, e.g. "1 entry".
func plural(n int, singular, pluralForm string) string {
	if n == 1 {
		return "1 " + singular
	}
	return fmt.Sprintf("%d %s", n, pluralForm)
}
