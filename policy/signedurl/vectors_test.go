package signedurl

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from this implementation")

// vectorFile is the layout of testdata/shared-vectors.json and
// testdata/vectors.json.
type vectorFile struct {
	Scheme  string   `json:"scheme"`
	Key     string   `json:"key"`
	Note    string   `json:"note"`
	Vectors []vector `json:"vectors"`
}

// vector is one known answer. Target is the path and query as sent,
// without X-Awra-Signature. URLScheme is "https" when empty.
type vector struct {
	Name      string `json:"name,omitempty"`
	Method    string `json:"method"`
	URLScheme string `json:"url_scheme,omitempty"`
	Host      string `json:"host"`
	Target    string `json:"target"`
	Canonical string `json:"canonical"`
	Signature string `json:"signature"`
}

func (v vector) scheme() string {
	if v.URLScheme == "" {
		return "https"
	}
	return v.URLScheme
}

// ownVectorKey signs testdata/vectors.json. It is published test data,
// not a secret.
const ownVectorKey = "awragate-test-vector-key-not-a-secret-0123456789"

// ownVectorCases lists the requests of testdata/vectors.json. Their
// canonical strings and signatures come from this package with -update and
// are checked against signer.py and signer.js on every run.
var ownVectorCases = []vector{
	{Name: "space plus and literal plus in path", Method: "GET", Host: "files.awra.example",
		Target: "/v1/a%20b%2Bc+d.txt?X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "lower-case escapes", Method: "GET", Host: "files.awra.example",
		Target: "/v1/dir%2fsub/%c3%a9t%c3%a9?x=%2b%2f&X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "escaped unreserved characters", Method: "GET", Host: "files.awra.example",
		Target: "/%7Euser/%41%62c%2D%2E%5F%7e?%7e=%41%2d&X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "escaped UTF-8", Method: "GET", Host: "files.awra.example",
		Target: "/v1/%E6%97%A5%E6%9C%AC.txt?name=%E2%82%AC10&X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "raw UTF-8 kept in path and encoded in query", Method: "GET", Host: "files.awra.example",
		Target: "/v1/café.txt?q=café&X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "repeated parameters in any order", Method: "GET", Host: "files.awra.example",
		Target: "/v1/list?b=2&a=3&X-Awra-Expires=1767225600&a=1&b=10&X-Awra-Key-Id=k2026&a=1"},
	{Name: "only control parameters over http port 80", Method: "GET", URLScheme: "http", Host: "files.awra.example:80",
		Target: "/v1/plain?X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "https port 443 and upper-case host", Method: "PUT", Host: "FILES.Awra.Example:443",
		Target: "/v1/upload?X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "IPv6 host with default port", Method: "GET", Host: "[2001:DB8::1]:443",
		Target: "/v1/x?X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "lower-case method", Method: "delete", Host: "files.awra.example",
		Target: "/v1/x?X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "parameter without equals sign", Method: "GET", Host: "files.awra.example",
		Target: "/v1/x?flag&x=&X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "equals sign inside value", Method: "GET", Host: "files.awra.example",
		Target: "/v1/x?a=b=c&X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "empty pieces skipped", Method: "GET", Host: "files.awra.example",
		Target: "/v1/x?&&a=1&&X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600&"},
	{Name: "sort by name before value", Method: "GET", Host: "files.awra.example",
		Target: "/v1/x?a-=1&a=2&a.b=0&X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "reserved characters in query", Method: "GET", Host: "files.awra.example",
		Target: "/v1/x?r=/p?x:y@z!$'()*,&q=a%2Fb&X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "escaped slash and percent kept in path", Method: "GET", Host: "files.awra.example",
		Target: "/v1/a%2fb/100%25/c:d@e!$&'()*+,=?X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "empty path", Method: "GET", Host: "files.awra.example",
		Target: "?X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
	{Name: "non-default port kept", Method: "GET", URLScheme: "http", Host: "127.0.0.1:8443",
		Target: "/v1/x?X-Awra-Key-Id=k2026&X-Awra-Expires=1767225600"},
}

func hmacSignature(key []byte, canonical string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func readVectors(t *testing.T, name string) vectorFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	if len(f.Vectors) == 0 {
		t.Fatalf("%s holds no vectors", name)
	}
	return f
}

// checkVectors checks every vector against Canonical, the HMAC and Verify.
func checkVectors(t *testing.T, f vectorFile) {
	t.Helper()
	v, err := NewVerifier(Config{Keys: map[string][]byte{"k2026": []byte(f.Key)}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1767225600, 0).Add(-time.Hour)

	for _, vec := range f.Vectors {
		t.Run(vec.Name+vec.Target, func(t *testing.T) {
			path, query, _ := strings.Cut(vec.Target, "?")
			got, err := Canonical(vec.Method, vec.scheme(), vec.Host, path, query)
			if err != nil {
				t.Fatalf("Canonical(%q) error: %v", vec.Target, err)
			}
			if got != vec.Canonical {
				t.Errorf("Canonical(%q) = %q, want %q", vec.Target, got, vec.Canonical)
			}
			if sig := hmacSignature([]byte(f.Key), got); sig != vec.Signature {
				t.Errorf("signature of %q = %s, want %s", vec.Target, sig, vec.Signature)
			}

			res := v.Verify(now, vec.Method, vec.scheme(), vec.Host, path, query+"&"+ParamSignature+"="+vec.Signature)
			if !res.Allowed() {
				t.Errorf("Verify(%q) reason = %q, want allowed", vec.Target, res.Reason)
			}
		})
	}
}

func TestSharedVectors(t *testing.T) {
	checkVectors(t, readVectors(t, "shared-vectors.json"))
}

func TestOwnVectors(t *testing.T) {
	want := vectorFile{
		Scheme: "awragate signed URL, computed by policy/signedurl and checked against testdata/signer.py and signer.js",
		Key:    ownVectorKey,
		Note:   "url_scheme is https when absent; the signature is sent as &X-Awra-Signature=<signature>",
	}
	for _, c := range ownVectorCases {
		path, query, _ := strings.Cut(c.Target, "?")
		canonical, err := Canonical(c.Method, c.scheme(), c.Host, path, query)
		if err != nil {
			t.Fatalf("Canonical(%q) error: %v", c.Target, err)
		}
		c.Canonical, c.Signature = canonical, hmacSignature([]byte(ownVectorKey), canonical)
		want.Vectors = append(want.Vectors, c)
	}

	if *update {
		var data bytes.Buffer
		enc := json.NewEncoder(&data)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(want); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "vectors.json"), data.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	got := readVectors(t, "vectors.json")
	if len(got.Vectors) != len(want.Vectors) {
		t.Fatalf("testdata/vectors.json has %d vectors, want %d: run go test -run TestOwnVectors -update", len(got.Vectors), len(want.Vectors))
	}
	for i := range want.Vectors {
		if got.Vectors[i] != want.Vectors[i] {
			t.Errorf("vector %d in file = %+v, want %+v", i, got.Vectors[i], want.Vectors[i])
		}
	}
	checkVectors(t, got)
}

// scriptCase is one input of testdata/crosscheck.py and crosscheck.js.
type scriptCase struct {
	Op      string `json:"op"`
	Method  string `json:"method"`
	URL     string `json:"url,omitempty"`
	KeyID   string `json:"key_id,omitempty"`
	Expires int64  `json:"expires,omitempty"`
	Scheme  string `json:"scheme,omitempty"`
	Host    string `json:"host,omitempty"`
	Path    string `json:"path"`
	Query   string `json:"query"`
}

// scriptResult is one output of the cross-check drivers.
type scriptResult struct {
	Result    string `json:"result"`
	Signature string `json:"signature"`
	Error     string `json:"error"`
}

// crossCheckers lists the independent signers, by interpreter.
var crossCheckers = []struct{ interpreter, script string }{
	{"python3", "crosscheck.py"},
	{"node", "crosscheck.js"},
}

// runCrossCheck runs one driver on cases with secret in its environment.
// It skips the test when the interpreter is not installed.
func runCrossCheck(t *testing.T, interpreter, script string, secret []byte, cases []scriptCase) []scriptResult {
	t.Helper()
	bin, err := exec.LookPath(interpreter)
	if err != nil {
		t.Skipf("%s not installed", interpreter)
	}
	input, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, filepath.Join("testdata", script))
	cmd.Env = append(os.Environ(), "AWRA_URL_SECRET="+string(secret))
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	output, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s failed: %v\n%s", interpreter, script, err, stderr.String())
	}

	var results []scriptResult
	if err := json.Unmarshal(output, &results); err != nil {
		t.Fatalf("%s %s output: %v", interpreter, script, err)
	}
	if len(results) != len(cases) {
		t.Fatalf("%s %s returned %d results, want %d", interpreter, script, len(results), len(cases))
	}
	return results
}

// TestVectorsCrossCheck recomputes every known answer, shared and own, with
// the Python and Node implementations, which share no code with this
// package.
func TestVectorsCrossCheck(t *testing.T) {
	for _, file := range []string{"shared-vectors.json", "vectors.json"} {
		f := readVectors(t, file)
		cases := make([]scriptCase, len(f.Vectors))
		for i, vec := range f.Vectors {
			path, query, _ := strings.Cut(vec.Target, "?")
			cases[i] = scriptCase{Op: "canonical", Method: vec.Method, Scheme: vec.scheme(), Host: vec.Host, Path: path, Query: query}
		}

		for _, checker := range crossCheckers {
			t.Run(file+"/"+checker.interpreter, func(t *testing.T) {
				results := runCrossCheck(t, checker.interpreter, checker.script, []byte(f.Key), cases)
				for i, vec := range f.Vectors {
					if results[i].Error != "" {
						t.Errorf("%s canonical(%q) error: %s", checker.script, vec.Target, results[i].Error)
						continue
					}
					if results[i].Result != vec.Canonical {
						t.Errorf("%s canonical(%q) = %q, want %q", checker.script, vec.Target, results[i].Result, vec.Canonical)
					}
					if results[i].Signature != vec.Signature {
						t.Errorf("%s signature(%q) = %s, want %s", checker.script, vec.Target, results[i].Signature, vec.Signature)
					}
				}
			})
		}
	}
}
