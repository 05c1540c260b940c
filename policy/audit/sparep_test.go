package audit

import (
	"errors"
	"runtime"
	"testing"
)

// With GOMAXPROCS 1, fn runs with two Ps and GOMAXPROCS is 1 again
// afterwards. Any other setting is left alone, and fn's error is returned.
func TestWithSparePRestoresGOMAXPROCS(t *testing.T) {
	saved := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(saved)

	for _, tt := range []struct{ before, during int }{{1, 2}, {2, 2}, {3, 3}} {
		runtime.GOMAXPROCS(tt.before)
		want := errors.New("commit failed")
		var during int
		err := withSpareP(func() error {
			during = runtime.GOMAXPROCS(0)
			return want
		})
		if during != tt.during {
			t.Errorf("GOMAXPROCS %d: fn ran with %d Ps, want %d", tt.before, during, tt.during)
		}
		if after := runtime.GOMAXPROCS(0); after != tt.before {
			t.Errorf("GOMAXPROCS %d: %d afterwards, want it restored", tt.before, after)
		}
		if !errors.Is(err, want) {
			t.Errorf("GOMAXPROCS %d: withSpareP() = %v, want fn's error", tt.before, err)
		}
	}
}

// Calls that overlap share the spare P, do not wait for each other, and
// GOMAXPROCS is 1 again only when the last one ends. A value set by
// someone else during a call is kept.
func TestWithSparePOverlappingCalls(t *testing.T) {
	saved := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(saved)
	runtime.GOMAXPROCS(1)

	inFirst, releaseFirst := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error)
	go func() {
		firstDone <- withSpareP(func() error {
			close(inFirst)
			<-releaseFirst
			return nil
		})
	}()
	<-inFirst

	// The second call runs while the first still waits.
	var during int
	if err := withSpareP(func() error { during = runtime.GOMAXPROCS(0); return nil }); err != nil {
		t.Fatalf("second withSpareP() = %v", err)
	}
	if during != 2 {
		t.Errorf("second call ran with %d Ps, want the shared 2", during)
	}
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("GOMAXPROCS after the second call = %d, want 2 while the first runs", got)
	}
	close(releaseFirst)
	if err := <-firstDone; err != nil {
		t.Fatalf("first withSpareP() = %v", err)
	}
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS after both calls = %d, want 1", got)
	}

	_ = withSpareP(func() error { runtime.GOMAXPROCS(4); return nil })
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Errorf("GOMAXPROCS set to 4 during a call = %d afterwards, want 4 kept", got)
	}
}
