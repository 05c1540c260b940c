package webhook

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

// vector is one known-answer test: the headers a provider sent for body
// with secret.
type vector struct {
	Name       string            `json:"name"`
	Provider   string            `json:"provider"`
	Source     string            `json:"source"`
	Secret     string            `json:"secret"`
	Body       string            `json:"body"`
	BodyBase64 string            `json:"body_base64"`
	Now        int64             `json:"now"`
	Headers    map[string]string `json:"headers"`
	HMAC       *struct {
		Header          string `json:"header"`
		Algorithm       string `json:"algorithm"`
		Encoding        string `json:"encoding"`
		Prefix          string `json:"prefix"`
		TimestampHeader string `json:"timestamp_header"`
		IDHeader        string `json:"id_header"`
		Template        string `json:"template"`
	} `json:"hmac"`
}

func loadVectors(t *testing.T, path string) []vector {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var doc struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	if len(doc.Vectors) == 0 {
		t.Fatalf("%s has no vectors", path)
	}
	return doc.Vectors
}

func (v vector) config() Config {
	cfg := Config{Provider: v.Provider, Secrets: []string{v.Secret}}
	if v.HMAC != nil {
		cfg.HMAC = HMACOptions{
			Header: v.HMAC.Header, Algorithm: v.HMAC.Algorithm, Encoding: v.HMAC.Encoding, Prefix: v.HMAC.Prefix,
			TimestampHeader: v.HMAC.TimestampHeader, IDHeader: v.HMAC.IDHeader, Template: v.HMAC.Template,
		}
	}
	return cfg
}

func (v vector) body(t *testing.T) []byte {
	if v.BodyBase64 == "" {
		return []byte(v.Body)
	}
	b, err := base64.StdEncoding.DecodeString(v.BodyBase64)
	if err != nil {
		t.Fatalf("vector %q: body_base64: %v", v.Name, err)
	}
	return b
}

func (v vector) header() http.Header {
	h := http.Header{}
	for name, value := range v.Headers {
		h.Set(name, value)
	}
	return h
}

// clock returns the fixed time to verify v at: its "now" field, or the
// timestamp it carries, or testNow for schemes without one. The published
// vectors have no "now" field.
func (v vector) clock(t *testing.T) time.Time {
	if v.Now != 0 {
		return time.Unix(v.Now, 0)
	}
	for _, name := range []string{"X-Slack-Request-Timestamp", "Webhook-Timestamp", "Svix-Timestamp"} {
		if s := v.header().Get(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("vector %q: timestamp %q: %v", v.Name, s, err)
			}
			return time.Unix(n, 0)
		}
	}
	return testNow
}

var vectorFiles = []string{"testdata/webhook-vectors.json", "testdata/computed-vectors.json"}

func TestKnownAnswerVectors(t *testing.T) {
	covered := map[string]bool{}
	for _, file := range vectorFiles {
		for i, vec := range loadVectors(t, file) {
			name := vec.Name
			if name == "" {
				name = vec.Provider + " " + strconv.Itoa(i)
			}
			covered[vec.Provider] = true

			t.Run(file+"/"+name, func(t *testing.T) {
				if vec.Source == "" {
					t.Errorf("vector has no source")
				}
				v, err := New(vec.config())
				if err != nil {
					t.Fatalf("New() error: %v", err)
				}
				body, h, now := vec.body(t), vec.header(), vec.clock(t)

				r := v.Verify(now, h, body)
				checkResult(t, r, policy.ReasonNone)

				tampered := append(append([]byte{}, body...), ' ')
				checkResult(t, v.Verify(now, h, tampered), policy.ReasonSignatureInvalid)

				if !r.Timestamp.IsZero() {
					checkResult(t, v.Verify(now.Add(DefaultTolerance+time.Second), h, body), policy.ReasonTimestampOutOfTolerance)
					checkResult(t, v.Verify(now.Add(-DefaultTolerance-time.Second), h, body), policy.ReasonTimestampOutOfTolerance)
				}

				// Sign at the vector's time must reproduce its signature
				// header byte for byte.
				signAt := now
				if !r.Timestamp.IsZero() {
					signAt = r.Timestamp
				}
				signed, err := v.Sign(signAt, r.EventID, body)
				if err != nil {
					t.Fatalf("Sign() error: %v", err)
				}
				compared := 0
				for name, values := range signed {
					want := h.Get(name)
					if want == "" && strings.HasPrefix(name, "Webhook-") {
						want = h.Get("Svix-" + strings.TrimPrefix(name, "Webhook-"))
					}
					if want == "" {
						continue
					}
					compared++
					if values[0] != want {
						t.Errorf("Sign() header %s differs from the vector", name)
					}
				}
				if compared == 0 {
					t.Errorf("Sign() produced no header that the vector has")
				}
			})
		}
	}
	for _, p := range Providers() {
		if !covered[p] {
			t.Errorf("no known-answer vector for provider %q", p)
		}
	}
}

// TestVectorsMatchPython runs the independent Python implementation over
// the same files. Together with TestKnownAnswerVectors, it shows that two
// implementations agree with every stored signature.
func TestVectorsMatchPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found; the cross-check needs it")
	}
	args := append([]string{"testdata/crosscheck.py", "check"}, vectorFiles...)
	out, err := exec.Command(python, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("crosscheck.py check: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "ok: ") {
		t.Errorf("crosscheck.py output = %q, want it to start with %q", out, "ok: ")
	}
}

// TestComputedVectorsUpToDate regenerates computed-vectors.json with the
// Python script and compares it with the committed file, so that the file
// cannot drift from the script's inputs.
func TestComputedVectorsUpToDate(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found; the cross-check needs it")
	}
	out, err := exec.Command(python, "testdata/crosscheck.py", "generate").Output()
	if err != nil {
		t.Fatalf("crosscheck.py generate: %v", err)
	}
	committed, err := os.ReadFile("testdata/computed-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(committed) {
		t.Errorf("testdata/computed-vectors.json differs from 'crosscheck.py generate': regenerate it")
	}
}
