// Command hookbodies writes distinct signed GitHub-style webhook bodies for
// the webhook scenario of bench/run.sh. Every body is the same 2048-byte
// JSON text except for an 8-digit delivery number, so the wrk script keeps
// only the two fixed parts and one line per body: the number and the
// X-Hub-Signature-256 value (sha256=<hex of HMAC-SHA256 of the body>).
//
// The secret is read from the environment variable named by -secret-env and
// is never written out.
package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const bodySize = 2048

func main() {
	n := flag.Int("n", 200000, "number of distinct bodies")
	secretEnv := flag.String("secret-env", "", "name of the environment variable that holds the secret")
	dir := flag.String("dir", "", "directory for prefix.txt, suffix.txt, signatures.txt and the probe files")
	flag.Parse()
	secret := os.Getenv(*secretEnv)
	if *secretEnv == "" || secret == "" || *dir == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "hookbodies: give -dir, -n of at least 1 and -secret-env naming a set variable")
		os.Exit(2)
	}
	prefix := `{"action":"bench","delivery":"`
	suffixStart := `","padding":"`
	pad := bodySize - len(prefix) - 8 - len(suffixStart) - len(`"}`)
	suffix := suffixStart + strings.Repeat("x", pad) + `"}`
	if err := os.WriteFile(filepath.Join(*dir, "prefix.txt"), []byte(prefix), 0o600); err != nil {
		fail(err)
	}
	if err := os.WriteFile(filepath.Join(*dir, "suffix.txt"), []byte(suffix), 0o600); err != nil {
		fail(err)
	}
	f, err := os.OpenFile(filepath.Join(*dir, "signatures.txt"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		fail(err)
	}
	w := bufio.NewWriter(f)
	for i := 0; i < *n; i++ {
		id := fmt.Sprintf("%08d", i)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(prefix + id + suffix))
		fmt.Fprintf(w, "%s sha256=%s\n", id, hex.EncodeToString(mac.Sum(nil)))
	}
	// One more body, outside the wrk set, for the start-up check.
	mac := hmac.New(sha256.New, []byte(secret))
	probe := prefix + "99999999" + suffix
	mac.Write([]byte(probe))
	if err := os.WriteFile(filepath.Join(*dir, "probe-body.json"), []byte(probe), 0o600); err != nil {
		fail(err)
	}
	header := "X-Hub-Signature-256: sha256=" + hex.EncodeToString(mac.Sum(nil)) + "\n"
	if err := os.WriteFile(filepath.Join(*dir, "probe-header.txt"), []byte(header), 0o600); err != nil {
		fail(err)
	}
	if err := w.Flush(); err != nil {
		fail(err)
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "hookbodies: %v\n", err)
	os.Exit(1)
}
