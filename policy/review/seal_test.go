package review

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func newSigner(t *testing.T) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	privPEM, pubPEM, err := GenerateSigningKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatalf("ParsePrivateKey = %v", err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatalf("ParsePublicKey = %v", err)
	}
	return priv, pub
}

// sealedDir returns a sealed directory with a report and two evidence
// files.
func sealedDir(t *testing.T, priv ed25519.PrivateKey) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"report.md":                   "# report\n",
		"report.json":                 `{"schema_version":1}` + "\n",
		"evidence/keys.json":          "[]\n",
		"evidence/audit-export.jsonl": `{"stream_id":"1-0"}` + "\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Seal(dir, priv, "awragate review test", reviewNow); err != nil {
		t.Fatalf("Seal = %v", err)
	}
	return dir
}

func problemPaths(ps []SealProblem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Path)
	}
	return out
}

func TestSealVerifies(t *testing.T) {
	priv, pub := newSigner(t)
	dir := sealedDir(t, priv)
	problems, verified, err := VerifySeal(dir, pub)
	if err != nil || len(problems) != 0 || verified != 4 {
		t.Fatalf("VerifySeal = %v, %d, %v, want no problems and 4 files", problems, verified, err)
	}
}

func TestSealDetectsChanges(t *testing.T) {
	priv, pub := newSigner(t)
	flipByte := func(name string) func(dir string) {
		return func(dir string) {
			p := filepath.Join(dir, filepath.FromSlash(name))
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0x01
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		change func(dir string)
		want   []string
	}{
		{"report byte", flipByte("report.md"), []string{"report.md"}},
		{"evidence byte", flipByte("evidence/audit-export.jsonl"), []string{"evidence/audit-export.jsonl"}},
		{"manifest byte", flipByte(ManifestName), []string{ManifestName}},
		{"file removed", func(dir string) { os.Remove(filepath.Join(dir, "evidence", "keys.json")) }, []string{"evidence/keys.json"}},
		{"file added", func(dir string) { os.WriteFile(filepath.Join(dir, "evidence", "extra.txt"), []byte("x"), 0o600) }, []string{"evidence/extra.txt"}},
		{"file appended", func(dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, "report.json"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(" ")
			f.Close()
		}, []string{"report.json"}},
		{"manifest removed", func(dir string) { os.Remove(filepath.Join(dir, ManifestName)) }, []string{ManifestName}},
		{"signature removed", func(dir string) { os.Remove(filepath.Join(dir, SignatureName)) }, []string{SignatureName}},
		{"signature garbage", func(dir string) { os.WriteFile(filepath.Join(dir, SignatureName), []byte("!!"), 0o600) }, []string{SignatureName}},
		{"two changes", func(dir string) {
			flipByte("report.md")(dir)
			flipByte("evidence/keys.json")(dir)
		}, []string{"evidence/keys.json", "report.md"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := sealedDir(t, priv)
			tt.change(dir)
			problems, _, err := VerifySeal(dir, pub)
			if err != nil {
				t.Fatalf("VerifySeal = %v", err)
			}
			if got := problemPaths(problems); !slices.Equal(got, tt.want) {
				t.Errorf("problem paths = %v, want %v (problems %v)", got, tt.want, problems)
			}
		})
	}
}

// TestSealSignatureByte flips a byte of the signature, which either no
// longer decodes (SignatureName is named) or no longer verifies the
// manifest (ManifestName is named, with SignatureName in the message).
func TestSealSignatureByte(t *testing.T) {
	priv, pub := newSigner(t)
	for i := 0; i < 86; i += 7 {
		dir := sealedDir(t, priv)
		p := filepath.Join(dir, SignatureName)
		data, _ := os.ReadFile(p)
		data[i] ^= 0x01
		os.WriteFile(p, data, 0o600)
		problems, _, _ := VerifySeal(dir, pub)
		if len(problems) != 1 || !strings.Contains(problems[0].String(), SignatureName) {
			t.Errorf("byte %d of the signature flipped: problems = %v, want one naming %s", i, problems, SignatureName)
		}
	}
}

func TestSealWrongKey(t *testing.T) {
	priv, _ := newSigner(t)
	_, otherPub := newSigner(t)
	problems, _, _ := VerifySeal(sealedDir(t, priv), otherPub)
	if got := problemPaths(problems); !slices.Equal(got, []string{ManifestName}) {
		t.Errorf("problem paths with another key = %v, want [MANIFEST.json]", got)
	}
}

func TestSealRejectsSymlink(t *testing.T) {
	priv, _ := newSigner(t)
	dir := t.TempDir()
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "link")); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	if err := Seal(dir, priv, "t", reviewNow); err == nil {
		t.Error("Seal of a directory with a symlink = nil error, want an error")
	}
}

func TestParseManifest(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		json string
		ok   bool
	}{
		{"valid", `{"schema":"awragate-review-manifest/1","files":[{"path":"a/b.json","size":1,"sha256":"` + sum + `"}]}`, true},
		{"unknown field", `{"schema":"awragate-review-manifest/1","files":[],"x":1}`, false},
		{"wrong schema", `{"schema":"other/1","files":[]}`, false},
		{"absolute path", `{"schema":"awragate-review-manifest/1","files":[{"path":"/etc/passwd","size":1,"sha256":"` + sum + `"}]}`, false},
		{"parent path", `{"schema":"awragate-review-manifest/1","files":[{"path":"../x","size":1,"sha256":"` + sum + `"}]}`, false},
		{"unclean path", `{"schema":"awragate-review-manifest/1","files":[{"path":"a//b","size":1,"sha256":"` + sum + `"}]}`, false},
		{"backslash", `{"schema":"awragate-review-manifest/1","files":[{"path":"a\\b","size":1,"sha256":"` + sum + `"}]}`, false},
		{"duplicate", `{"schema":"awragate-review-manifest/1","files":[{"path":"a","size":1,"sha256":"` + sum + `"},{"path":"a","size":1,"sha256":"` + sum + `"}]}`, false},
		{"manifest listed", `{"schema":"awragate-review-manifest/1","files":[{"path":"MANIFEST.json","size":1,"sha256":"` + sum + `"}]}`, false},
		{"short hash", `{"schema":"awragate-review-manifest/1","files":[{"path":"a","size":1,"sha256":"abcd"}]}`, false},
		{"upper-case hash", `{"schema":"awragate-review-manifest/1","files":[{"path":"a","size":1,"sha256":"` + strings.ToUpper(sum) + `"}]}`, false},
		{"negative size", `{"schema":"awragate-review-manifest/1","files":[{"path":"a","size":-1,"sha256":"` + sum + `"}]}`, false},
		{"trailing data", `{"schema":"awragate-review-manifest/1","files":[]} {}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tt.json))
			if (err == nil) != tt.ok {
				t.Errorf("ParseManifest(%s) = %v, want ok %v", tt.json, err, tt.ok)
			}
		})
	}
}

func TestWriteKeyPair(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "signing")
	keyPath, pubPath, err := WriteKeyPair(prefix, rand.Reader)
	if err != nil {
		t.Fatalf("WriteKeyPair = %v", err)
	}
	for path, want := range map[string]os.FileMode{keyPath: 0o600, pubPath: 0o644} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %o, want %o", filepath.Base(path), got, want)
		}
	}
	if _, _, err := WriteKeyPair(prefix, rand.Reader); err == nil {
		t.Error("WriteKeyPair over an existing pair = nil error, want an error")
	}
}

func TestParseKeyErrorsHoldNoKey(t *testing.T) {
	privPEM, pubPEM, _ := GenerateSigningKey(rand.Reader)
	tests := []struct {
		name string
		data []byte
	}{
		{"public key as private", pubPEM},
		{"private key cut short", privPEM[:len(privPEM)-40]},
		{"two blocks", append(append([]byte(nil), privPEM...), privPEM...)},
		{"not PEM", []byte("secret-looking-text")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKey(tt.data)
			if err == nil {
				t.Fatal("ParsePrivateKey = nil error, want an error")
			}
			if strings.Contains(err.Error(), "MC4C") || strings.Contains(err.Error(), "secret-looking-text") {
				t.Errorf("error %q contains the key material", err)
			}
		})
	}
	if _, err := ParsePublicKey(privPEM); err == nil {
		t.Error("ParsePublicKey(private key) = nil error, want an error")
	}
}
