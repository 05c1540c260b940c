package integrationtests

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The help of the binary and of its subcommands names awragate, the
// command a user types, rather than caddy.
func TestHelpNamesAwragate(t *testing.T) {
	t.Parallel()
	suiteMustExist(t)
	for _, args := range [][]string{{"help"}, {"keys", "create", "--help"}, {"audit", "verify", "--help"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, suite.binary, args...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("awragate %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		want := "awragate " + strings.Join(args[:len(args)-1], " ")
		if args[0] == "help" {
			want = "awragate [command]"
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("awragate %s: output lacks %q:\n%s", strings.Join(args, " "), want, out)
		}
	}
}

// The version names the awragate build before Caddy's version.
func TestVersionNamesAwragate(t *testing.T) {
	t.Parallel()
	suiteMustExist(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, suite.binary, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("awragate version: %v\n%s", err, out)
	}
	if s := string(out); !strings.HasPrefix(s, "awragate ") || !strings.Contains(s, " with Caddy v2.") {
		t.Errorf("awragate version = %q, want \"awragate <build> with Caddy v2...\"", s)
	}
}
