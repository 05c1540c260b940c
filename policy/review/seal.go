package review

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Names of the seal files at the root of a review directory.
const (
	ManifestName  = "MANIFEST.json"
	SignatureName = "MANIFEST.json.sig"
)

// ManifestSchema identifies the manifest format.
const ManifestSchema = "awragate-review-manifest/1"

// Modes of the files and directories a review writes. Evidence holds
// client addresses and key ids, so it is private to its owner.
const (
	evidenceFileMode = 0o600
	evidenceDirMode  = 0o700
)

// Manifest lists every file of a review directory with its SHA-256. Its
// exact bytes are signed with Ed25519 into SignatureName.
type Manifest struct {
	Schema    string    `json:"schema"`
	Tool      string    `json:"tool"`
	CreatedAt time.Time `json:"created_at"`

	// PublicKeySHA256 is the SHA-256 of the signer's public key in PKIX
	// DER form, so a reader can tell which key to verify with.
	PublicKeySHA256 string         `json:"public_key_sha256"`
	Files           []ManifestFile `json:"files"`
}

// ManifestFile is one sealed file. Path is relative to the review
// directory, with forward slashes.
type ManifestFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Seal writes ManifestName, listing every regular file under dir, and
// SignatureName, the base64 Ed25519 signature of the manifest's bytes.
// It fails when dir holds anything but regular files and directories, or
// when a seal file already exists.
func Seal(dir string, key ed25519.PrivateKey, tool string, now time.Time) error {
	files, err := listFiles(dir)
	if err != nil {
		return err
	}
	m := Manifest{Schema: ManifestSchema, Tool: tool, CreatedAt: now.UTC(), PublicKeySHA256: KeyFingerprint(key.Public().(ed25519.PublicKey)), Files: []ManifestFile{}}
	for _, rel := range files {
		size, sum, err := hashFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		m.Files = append(m.Files, ManifestFile{Path: rel, Size: size, SHA256: sum})
	}

	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the manifest: %w", err)
	}
	data = append(data, '\n')
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, data)) + "\n"
	if err := writeNewFile(filepath.Join(dir, ManifestName), data); err != nil {
		return err
	}
	return writeNewFile(filepath.Join(dir, SignatureName), []byte(sig))
}

// SealProblem is one reason a review directory fails verification.
type SealProblem struct {
	Path    string `json:"path"`
	Problem string `json:"problem"`
}

func (p SealProblem) String() string { return p.Path + ": " + p.Problem }

// VerifySeal checks a sealed review directory with the signer's public
// key: the signature over the manifest, then every listed file's size and
// SHA-256, then that no file is missing or unlisted. It returns the
// problems sorted by path, none when the directory is intact, and the
// number of files verified. When the signature fails, the manifest cannot
// be trusted and its files are not checked. The error is set only when
// dir cannot be read at all.
func VerifySeal(dir string, pub ed25519.PublicKey) ([]SealProblem, int, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, 0, fmt.Errorf("reading review directory: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return []SealProblem{{ManifestName, "missing or unreadable: " + errText(err)}}, 0, nil
	}
	sigText, err := os.ReadFile(filepath.Join(dir, SignatureName))
	if err != nil {
		return []SealProblem{{SignatureName, "missing or unreadable: " + errText(err)}}, 0, nil
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sigText)))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return []SealProblem{{SignatureName, "not a base64 Ed25519 signature"}}, 0, nil
	}
	if !ed25519.Verify(pub, data, sig) {
		return []SealProblem{{ManifestName, "the signature in " + SignatureName + " does not match: the manifest or the signature changed, or the public key is not the signer's"}}, 0, nil
	}

	m, err := ParseManifest(data)
	if err != nil {
		return []SealProblem{{ManifestName, err.Error()}}, 0, nil
	}
	return checkFiles(dir, m)
}

func checkFiles(dir string, m *Manifest) ([]SealProblem, int, error) {
	var problems []SealProblem
	listed := map[string]bool{}
	verified := 0
	for _, f := range m.Files {
		listed[f.Path] = true
		size, sum, err := hashFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			problems = append(problems, SealProblem{f.Path, "missing"})
		case err != nil:
			problems = append(problems, SealProblem{f.Path, errText(err)})
		case size != f.Size || sum != f.SHA256:
			problems = append(problems, SealProblem{f.Path, "changed: its SHA-256 differs from the manifest"})
		default:
			verified++
		}
	}

	present, err := listFiles(dir)
	if err != nil {
		return nil, verified, err
	}
	for _, rel := range present {
		if !listed[rel] {
			problems = append(problems, SealProblem{rel, "extra: not listed in the manifest"})
		}
	}
	slices.SortFunc(problems, func(a, b SealProblem) int { return strings.Compare(a.Path, b.Path) })
	return problems, verified, nil
}

// maxManifestSize bounds the manifest VerifySeal reads.
const maxManifestSize = 16 << 20

// ParseManifest decodes a manifest strictly: known fields only, the
// expected schema, and file paths that are relative, clean, unique and
// stay inside the directory.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("manifest is %d bytes, more than the %d a review writes", len(data), maxManifestSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("invalid manifest: %w", err)
	}
	if dec.More() {
		return nil, errors.New("invalid manifest: unexpected data after the JSON document")
	}
	if m.Schema != ManifestSchema {
		return nil, fmt.Errorf("invalid manifest: schema '%s', expected '%s'", truncateText(m.Schema, 60), ManifestSchema)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if !validRelPath(f.Path) || f.Path == ManifestName || f.Path == SignatureName {
			return nil, fmt.Errorf("invalid manifest: file path '%s' is not a clean relative path inside the directory", truncateText(f.Path, 120))
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("invalid manifest: file '%s' is listed twice", truncateText(f.Path, 120))
		}
		seen[f.Path] = true
		if len(f.SHA256) != 2*sha256.Size || strings.ToLower(f.SHA256) != f.SHA256 {
			return nil, fmt.Errorf("invalid manifest: file '%s' has no valid sha256", truncateText(f.Path, 120))
		}
		if _, err := hex.DecodeString(f.SHA256); err != nil || f.Size < 0 {
			return nil, fmt.Errorf("invalid manifest: file '%s' has an invalid sha256 or size", truncateText(f.Path, 120))
		}
	}
	return &m, nil
}

func validRelPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") || path.Clean(p) != p {
		return false
	}
	return p != "." && p != ".." && !strings.HasPrefix(p, "../")
}

// listFiles returns the regular files under dir, except the seal files
// at its root, as sorted slash-separated relative paths. Anything other
// than a regular file or a directory is an error.
func listFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("'%s' in the review directory is not a regular file", rel)
		case rel == ManifestName || rel == SignatureName:
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing review directory '%s': %w", dir, err)
	}
	slices.Sort(out)
	return out, nil
}

func hashFile(p string) (int64, string, error) {
	info, err := os.Lstat(p)
	if err != nil {
		return 0, "", err
	}
	if !info.Mode().IsRegular() {
		return 0, "", errors.New("not a regular file")
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// writeNewFile creates path with data and fails when it exists.
func writeNewFile(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, evidenceFileMode)
	if err != nil {
		return fmt.Errorf("creating '%s': %w", p, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("writing '%s': %w", p, err)
	}
	return nil
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
