package keystore

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// editKeys creates n keys named prefix-0 to prefix-(n-1) and rotates the
// shared key after each create. Every rotation keeps the earlier secrets
// (the grace is an hour), so a lost update shows up as a missing key or a
// missing secret.
func editKeys(s *Store, prefix string, n int) error {
	for i := 0; i < n; i++ {
		if _, _, err := s.Create(validOptions(fmt.Sprintf("%s-%d", prefix, i)), t0); err != nil {
			return err
		}
		if _, _, err := s.Rotate("shared", time.Hour, t0); err != nil {
			return err
		}
	}
	return nil
}

// checkNothingLost checks that the file holds every key that editKeys made
// for the prefixes and every secret of the shared key.
func checkNothingLost(t *testing.T, s *Store, prefixes []string, n int) {
	t.Helper()
	f := mustLoad(t, s)
	ids := make(map[string]bool, len(f.Keys))
	for _, k := range f.Keys {
		ids[k.ID] = true
	}
	for _, p := range prefixes {
		for i := 0; i < n; i++ {
			if id := fmt.Sprintf("%s-%d", p, i); !ids[id] {
				t.Errorf("key %s is missing: an update was lost", id)
			}
		}
	}
	if got, want := len(f.Keys), 1+len(prefixes)*n; got != want {
		t.Errorf("len(keys) = %d, want %d", got, want)
	}
	shared := mustGet(t, s, "shared")
	if got, want := len(shared.Secrets), 1+len(prefixes)*n; got != want {
		t.Errorf("secrets of the shared key = %d, want %d: a rotation was lost", got, want)
	}
	if stray := strayFiles(t, s); len(stray) != 0 {
		t.Errorf("files left beside the keys file = %v, want none", stray)
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	const goroutines, perGoroutine = 20, 3
	s := newStore(t)
	mustCreate(t, s, "shared")

	prefixes := make([]string, goroutines)
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		prefixes[g] = "g" + strconv.Itoa(g)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine has its own Store value, as separate callers
			// would.
			errs <- editKeys(&Store{Path: s.Path}, prefixes[g], perGoroutine)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent edit failed: %v", err)
		}
	}
	checkNothingLost(t, s, prefixes, perGoroutine)
}

// Environment variables that turn a re-executed test binary into a helper
// process for TestConcurrentProcesses.
const (
	helperFileEnv   = "KEYSTORE_TEST_HELPER_FILE"
	helperPrefixEnv = "KEYSTORE_TEST_HELPER_PREFIX"
	helperCountEnv  = "KEYSTORE_TEST_HELPER_COUNT"
)

// TestHelperProcess is the body of a helper process. It does nothing in a
// normal test run.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperFileEnv)
	if path == "" {
		t.Skip("runs only as a helper process of TestConcurrentProcesses")
	}
	n, err := strconv.Atoi(os.Getenv(helperCountEnv))
	if err != nil {
		t.Fatal(err)
	}
	if err := editKeys(&Store{Path: path}, os.Getenv(helperPrefixEnv), n); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts helper processes")
	}
	const processes, perProcess = 3, 8
	s := newStore(t)
	mustCreate(t, s, "shared")

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []string
	var cmds []*exec.Cmd
	for p := range processes {
		prefix := "p" + strconv.Itoa(p)
		prefixes = append(prefixes, prefix)
		cmd := exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			helperFileEnv+"="+s.Path,
			helperPrefixEnv+"="+prefix,
			helperCountEnv+"="+strconv.Itoa(perProcess),
		)
		cmds = append(cmds, cmd)
	}

	// The test process edits too, so goroutines and processes compete.
	outputs := make([][]byte, processes)
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outputs[i], _ = cmd.CombinedOutput()
		}()
	}
	prefixes = append(prefixes, "parent")
	if err := editKeys(s, "parent", perProcess); err != nil {
		t.Errorf("edit in the test process failed: %v", err)
	}
	wg.Wait()

	for i, cmd := range cmds {
		if !cmd.ProcessState.Success() {
			t.Fatalf("helper process %d failed: %s\n%s", i, cmd.ProcessState, outputs[i])
		}
	}
	checkNothingLost(t, s, prefixes, perProcess)
}
