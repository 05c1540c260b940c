// Package integrationtests drives the real awragate binary over HTTP: it
// builds the binary once, starts gateways and recording upstreams on
// loopback addresses, and judges only what a client, an upstream or an
// operator reading the logs can see.
package integrationtests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// suite is the state shared by every test of the package. It is set once
// in TestMain before any test runs and is read-only afterwards.
var suite struct {
	// binary is the awragate executable under test.
	binary string

	// dir contains the gateway log files, which must outlive the tests
	// that wrote them so that the final secret scan can read them.
	dir string
}

// TestMain builds awragate once, runs the tests, then scans every gateway
// log and every request an upstream received for the tokens the tests
// generated. Set AWRAGATE_BIN to test an already built binary, and
// AWRAGATE_KEEP_LOGS=1 to keep the gateway logs after a passing run (they
// are always kept after a failure).
func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	dir, err := os.MkdirTemp("", "awragate-it-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating the suite directory: %v\n", err)
		return 1
	}
	suite.dir = dir

	suite.binary, err = buildBinary(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}

	code := m.Run()

	if leaks := scanForLeaks(); len(leaks) > 0 {
		fmt.Fprintln(os.Stderr, "FAIL: generated tokens leaked:")
		for _, l := range leaks {
			fmt.Fprintln(os.Stderr, "  "+l)
		}
		code = 1
	}

	if code == 0 && os.Getenv("AWRAGATE_KEEP_LOGS") == "" {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "gateway logs kept in %s\n", dir)
	}
	return code
}

// buildBinary returns AWRAGATE_BIN when set, or builds ./gateway of the
// module that contains this package into dir.
func buildBinary(dir string) (string, error) {
	if bin := os.Getenv("AWRAGATE_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return "", fmt.Errorf("AWRAGATE_BIN '%s': %w", bin, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("AWRAGATE_BIN '%s': %w; unset it to build the binary from source", bin, err)
		}
		return abs, nil
	}

	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "awragate")
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", bin, "./gateway")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building awragate in '%s': %w\n%s", root, err, out)
	}
	fmt.Fprintf(os.Stderr, "built awragate in %v\n", time.Since(start).Round(time.Millisecond))
	return bin, nil
}

// moduleRoot returns the directory of go.mod above the package directory,
// which is the working directory of a test binary.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("finding the module root: %w", err)
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("finding the module root: no go.mod above '%s'; run the tests inside the awragate module or set AWRAGATE_BIN", wd)
		}
	}
}

// suiteMustExist is called by helpers that need TestMain's setup, so that
// running a helper from another TestMain fails with a clear message.
func suiteMustExist(t testing.TB) {
	t.Helper()
	if suite.binary == "" || suite.dir == "" {
		t.Fatal("the integration suite is not set up: run the tests through this package's TestMain")
	}
}
