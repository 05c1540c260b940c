package integrationtests

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy/signedurl"
)

// The signed-URL documentation marks the blocks this file checks with
// HTML comments, each on the line before a fenced code block:
//
//	<!-- signed-url-example:inputs -->      method, url, key id, expires, secret
//	<!-- signed-url-example:canonical -->   the signed string
//	<!-- signed-url-example:signed-url -->  the signed link
//	<!-- signed-url-signer:python -->       the Python signer
//	<!-- signed-url-signer:javascript -->   the JavaScript signer
//
// The section is written in docs/signed-urls.md and may be merged into
// README.md, so every file of docMarkedFiles that has the markers is
// checked, and at least one must.
var docMarkedFiles = []string{"README.md", filepath.Join("docs", "signed-urls.md")}

const docExampleMarker = "<!-- signed-url-example:inputs -->"

// signedURLDoc is one documentation file with the marked blocks.
type signedURLDoc struct {
	path string
	text string
}

// signedURLDocs returns the files of docMarkedFiles that contain the
// example markers, failing the test when none does.
func signedURLDocs(t *testing.T) []signedURLDoc {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var docs []signedURLDoc
	for _, name := range docMarkedFiles {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || !bytes.Contains(data, []byte(docExampleMarker)) {
			continue
		}
		docs = append(docs, signedURLDoc{path: name, text: string(data)})
	}
	if len(docs) == 0 {
		t.Fatalf("no file of %q contains %s: the signed-URL documentation lost its checked example", docMarkedFiles, docExampleMarker)
	}
	return docs
}

// block returns the content of the fenced code block that follows the
// line "<!-- name -->", without the fences.
func (d signedURLDoc) block(t *testing.T, name string) string {
	t.Helper()
	marker := "<!-- " + name + " -->\n"
	_, after, ok := strings.Cut(d.text, marker)
	if !ok {
		t.Fatalf("%s: no %q marker", d.path, strings.TrimSpace(marker))
	}
	if !strings.HasPrefix(after, "```") {
		t.Fatalf("%s: the line after %q does not open a code block", d.path, strings.TrimSpace(marker))
	}
	_, body, _ := strings.Cut(after, "\n")
	body, _, ok = strings.Cut(body, "\n```")
	if !ok {
		t.Fatalf("%s: the code block after %q is not closed", d.path, strings.TrimSpace(marker))
	}
	return body
}

// docExample is the worked example of the documentation.
type docExample struct {
	method, url, keyID, secret string
	expires                    int64
	canonical, signedURL       string
}

// example parses the marked example blocks of d.
func (d signedURLDoc) example(t *testing.T) docExample {
	t.Helper()
	ex := docExample{
		canonical: d.block(t, "signed-url-example:canonical"),
		signedURL: strings.TrimSpace(d.block(t, "signed-url-example:signed-url")),
	}
	fields := map[string]*string{"method": &ex.method, "url": &ex.url, "key id": &ex.keyID, "secret": &ex.secret}
	var expires string
	fields["expires"] = &expires
	for line := range strings.Lines(d.block(t, "signed-url-example:inputs")) {
		for name, dst := range fields {
			if rest, ok := strings.CutPrefix(line, name+" "); ok {
				*dst = strings.TrimSpace(rest)
			}
		}
	}
	for name, dst := range fields {
		if *dst == "" {
			t.Fatalf("%s: the example inputs have no %q line", d.path, name)
		}
	}
	n, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		t.Fatalf("%s: example expires %q is not Unix seconds", d.path, expires)
	}
	ex.expires = n
	return ex
}

// TestSignedURLDocsExample recomputes the documented example with the
// gateway's own code.
func TestSignedURLDocsExample(t *testing.T) {
	t.Parallel()
	for _, d := range signedURLDocs(t) {
		t.Run(d.path, func(t *testing.T) {
			ex := d.example(t)
			expires := time.Unix(ex.expires, 0)

			got, err := signedurl.SignURL(ex.method, ex.url, ex.keyID, []byte(ex.secret), expires)
			if err != nil {
				t.Fatalf("SignURL of the example: %v", err)
			}
			if got != ex.signedURL {
				t.Errorf("SignURL of the example = %q, want the documented %q", got, ex.signedURL)
			}

			scheme, rest, _ := strings.Cut(ex.signedURL, "://")
			slash := strings.IndexByte(rest, '/')
			host, target := rest[:slash], rest[slash:]
			path, query, _ := strings.Cut(target, "?")
			canonical, err := signedurl.Canonical(ex.method, scheme, host, path, query)
			if err != nil {
				t.Fatalf("Canonical of the example: %v", err)
			}
			if canonical != ex.canonical {
				t.Errorf("signed string of the example = %q, want the documented %q", canonical, ex.canonical)
			}

			mac := hmac.New(sha256.New, []byte(ex.secret))
			mac.Write([]byte(ex.canonical))
			wantSig := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
			if !strings.HasSuffix(ex.signedURL, "&"+signedurl.ParamSignature+"="+wantSig) {
				t.Errorf("documented link does not end with the HMAC of the documented signed string, %s", wantSig)
			}

			v, err := signedurl.NewVerifier(signedurl.Config{Keys: map[string][]byte{ex.keyID: []byte(ex.secret)}})
			if err != nil {
				t.Fatalf("signedurl.NewVerifier: %v", err)
			}
			if res := v.Verify(expires.Add(-time.Minute), ex.method, scheme, host, path, query); !res.Allowed() {
				t.Errorf("Verify of the documented link a minute before expiry = %q, want allowed", res.Reason)
			}
		})
	}
}

// docSigner is a documented signer written to a file that the test
// drivers of policy/signedurl/testdata can load.
type docSigner struct {
	interpreter string
	script      string // signer.py or signer.js, the name the driver loads
	driver      string // crosscheck.py or crosscheck.js
}

var docSigners = map[string]docSigner{
	"python":     {"python3", "signer.py", "crosscheck.py"},
	"javascript": {"node", "signer.js", "crosscheck.js"},
}

// writeDocSigner writes the documented signer for language, and the
// matching test driver, into a new directory, and returns the paths of
// the interpreter, the signer and the driver. It skips the test when the
// interpreter is not installed.
func writeDocSigner(t *testing.T, d signedURLDoc, language string) (interpreter, script, driver string) {
	t.Helper()
	s := docSigners[language]
	interpreter, err := exec.LookPath(s.interpreter)
	if err != nil {
		t.Skipf("%s is not installed, so the documented %s signer cannot be run: %v", s.interpreter, language, err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	driverCode, err := os.ReadFile(filepath.Join(root, "policy", "signedurl", "testdata", s.driver))
	if err != nil {
		t.Fatalf("reading the test driver: %v", err)
	}

	dir := t.TempDir()
	script, driver = filepath.Join(dir, s.script), filepath.Join(dir, s.driver)
	if err := os.WriteFile(script, []byte(d.block(t, "signed-url-signer:"+language)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(driver, driverCode, 0o644); err != nil {
		t.Fatal(err)
	}
	return interpreter, script, driver
}

// driverCase and driverResult are the input and output of
// testdata/crosscheck.py and crosscheck.js.
type driverCase struct {
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

type driverResult struct {
	Result    string `json:"result"`
	Signature string `json:"signature"`
	Error     string `json:"error"`
}

// runDriver runs driver on cases with secret in AWRA_URL_SECRET.
func runDriver(t *testing.T, interpreter, driver string, secret []byte, cases []driverCase) []driverResult {
	t.Helper()
	input, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(interpreter, driver)
	cmd.Env = append(os.Environ(), "AWRA_URL_SECRET="+string(secret))
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(interpreter), filepath.Base(driver), err, stderr.String())
	}
	var results []driverResult
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(cases) {
		t.Fatalf("%s output: %d results, %v; want %d results", filepath.Base(driver), len(results), err, len(cases))
	}
	return results
}

// docVector is one known-answer vector of policy/signedurl/testdata.
type docVector struct {
	Name      string `json:"name"`
	Method    string `json:"method"`
	URLScheme string `json:"url_scheme"`
	Host      string `json:"host"`
	Target    string `json:"target"`
	Canonical string `json:"canonical"`
	Signature string `json:"signature"`
}

// readDocVectors reads a vector file of policy/signedurl/testdata.
func readDocVectors(t *testing.T, name string) (key string, vectors []docVector) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "policy", "signedurl", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Key     string      `json:"key"`
		Vectors []docVector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &f); err != nil || len(f.Vectors) == 0 {
		t.Fatalf("%s: %d vectors, %v", name, len(f.Vectors), err)
	}
	return f.Key, f.Vectors
}

// vectorCases returns, for each vector, a canonical case and a sign case
// whose URL is the vector's target without the two control parameters.
// Signing that URL with key id k2026 and expiry 1767225600 appends them
// again, and the sorted signed string, so the signature, is the vector's.
func vectorCases(vectors []docVector) []driverCase {
	var cases []driverCase
	for _, v := range vectors {
		scheme := v.URLScheme
		if scheme == "" {
			scheme = "https"
		}
		path, query, _ := strings.Cut(v.Target, "?")
		cases = append(cases, driverCase{Op: "canonical", Method: v.Method, Scheme: scheme, Host: v.Host, Path: path, Query: query})

		var rest []string
		for _, piece := range strings.Split(query, "&") {
			if piece != signedurl.ParamKeyID+"=k2026" && piece != signedurl.ParamExpires+"=1767225600" {
				rest = append(rest, piece)
			}
		}
		u := scheme + "://" + v.Host + path
		if q := strings.Join(rest, "&"); q != "" {
			u += "?" + q
		}
		cases = append(cases, driverCase{Op: "sign", Method: v.Method, URL: u, KeyID: "k2026", Expires: 1767225600})
	}
	return cases
}

// TestSignedURLDocsSigners runs the documented Python and JavaScript
// signers on the worked example and on every known answer of
// policy/signedurl/testdata.
func TestSignedURLDocsSigners(t *testing.T) {
	t.Parallel()
	sharedKey, shared := readDocVectors(t, "shared-vectors.json")
	ownKey, own := readDocVectors(t, "vectors.json")

	for _, d := range signedURLDocs(t) {
		ex := d.example(t)
		for _, language := range []string{"python", "javascript"} {
			t.Run(d.path+"/"+language, func(t *testing.T) {
				interpreter, _, driver := writeDocSigner(t, d, language)
				runs := []struct {
					key     string
					vectors []docVector
					example bool
				}{
					{sharedKey, shared, ex.secret == sharedKey},
					{ownKey, own, ex.secret == ownKey},
				}
				exampleChecked := false
				for _, run := range runs {
					cases := vectorCases(run.vectors)
					if run.example {
						cases = append(cases, driverCase{Op: "sign", Method: ex.method, URL: ex.url, KeyID: ex.keyID, Expires: ex.expires})
					}
					results := runDriver(t, interpreter, driver, []byte(run.key), cases)

					for i, v := range run.vectors {
						canon, signed := results[2*i], results[2*i+1]
						if canon.Error != "" || canon.Result != v.Canonical || canon.Signature != v.Signature {
							t.Errorf("%s canonical of %s %s%s = %q, %s, error %q; want %q, %s",
								language, v.Method, v.Host, v.Target, canon.Result, canon.Signature, canon.Error, v.Canonical, v.Signature)
						}
						if want := "&" + signedurl.ParamSignature + "=" + v.Signature; signed.Error != "" || !strings.HasSuffix(signed.Result, want) {
							t.Errorf("%s sign_url of %s = %q, error %q; want a link ending in %s",
								language, cases[2*i+1].URL, signed.Result, signed.Error, want)
						}
					}
					if run.example {
						exampleChecked = true
						if got := results[len(results)-1]; got.Error != "" || got.Result != ex.signedURL {
							t.Errorf("%s sign_url of the example = %q, error %q; want the documented %q", language, got.Result, got.Error, ex.signedURL)
						}
					}
				}
				if !exampleChecked {
					t.Errorf("the example secret is neither vector file's key, so the %s signer was not run on the example", language)
				}
			})
		}
	}
}
