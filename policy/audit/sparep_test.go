package audit

import (
	"errors"
	"runtime"
	"testing"
)

// With GOMAXPROCS 1, fn runs with two Ps and GOMAXPROCS is 1 again
// afterwards; any other setting is left alone. fn's error is returned.
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
