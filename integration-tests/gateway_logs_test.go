package integrationtests

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// logText returns everything the gateway wrote to stdout and stderr so far.
func (g *gateway) logText(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(g.logPath)
	if err != nil {
		t.Fatalf("reading the gateway log: %v", err)
	}
	return string(data)
}

// logEntry is one JSON line of the gateway log.
type logEntry map[string]any

// str returns the string field name, or "" when it is absent.
func (e logEntry) str(name string) string {
	s, _ := e[name].(string)
	return s
}

// logEntries returns the JSON lines of the gateway log and skips others.
func (g *gateway) logEntries(t testing.TB) []logEntry {
	t.Helper()
	var entries []logEntry
	sc := bufio.NewScanner(strings.NewReader(g.logText(t)))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var e logEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			entries = append(entries, e)
		}
	}
	return entries
}

// waitForLogEntry polls the log until an entry after the first skip entries
// matches, and returns it with its index. It fails the test after timeout.
func (g *gateway) waitForLogEntry(t testing.TB, skip int, timeout time.Duration, expected string, match func(logEntry) bool) (logEntry, int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		entries := g.logEntries(t)
		for i := skip; i < len(entries); i++ {
			if match(entries[i]) {
				return entries[i], i
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no gateway log entry %s within %v; log:\n%s", expected, timeout, redact(g.logText(t)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
