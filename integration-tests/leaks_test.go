package integrationtests

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

// leakWatch records every token the tests generate, and every place a
// token must never reach: gateway log files and upstream servers. Response
// bodies are checked as they arrive. Its methods are safe for concurrent
// use.
var leakWatch struct {
	mu sync.Mutex

	// secrets maps the secret part of each generated token to the id of
	// its key. The secret part is searched for rather than the whole
	// token, so a secret logged without its "awra_<id>_" prefix is found
	// too.
	secrets map[string]string

	logFiles  []string
	upstreams []*upstream
}

// watchToken registers a generated token for the leak scans.
func watchToken(keyID, token string) {
	secret := token[strings.LastIndexByte(token, '_')+1:]
	leakWatch.mu.Lock()
	defer leakWatch.mu.Unlock()
	if leakWatch.secrets == nil {
		leakWatch.secrets = make(map[string]string)
	}
	leakWatch.secrets[secret] = keyID
}

func watchLogFile(path string) {
	leakWatch.mu.Lock()
	defer leakWatch.mu.Unlock()
	leakWatch.logFiles = append(leakWatch.logFiles, path)
}

func watchUpstream(u *upstream) {
	leakWatch.mu.Lock()
	defer leakWatch.mu.Unlock()
	leakWatch.upstreams = append(leakWatch.upstreams, u)
}

// tokensIn returns the ids of the keys whose tokens occur in data, sorted.
func tokensIn(data []byte) []string {
	leakWatch.mu.Lock()
	defer leakWatch.mu.Unlock()
	var ids []string
	for secret, id := range leakWatch.secrets {
		if bytes.Contains(data, []byte(secret)) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// redact replaces every generated token's secret in s, so that log text
// can be printed in a failure message without revealing a secret.
func redact(s string) string {
	leakWatch.mu.Lock()
	defer leakWatch.mu.Unlock()
	for secret, id := range leakWatch.secrets {
		s = strings.ReplaceAll(s, secret, "[secret of key '"+id+"']")
	}
	return s
}

// checkNoTokens fails the test when data contains a generated token. source
// names the data in the failure message, which never shows the token.
func checkNoTokens(t testing.TB, source string, data []byte) {
	t.Helper()
	if ids := tokensIn(data); len(ids) > 0 {
		t.Errorf("%s contains the token of keys %q", source, ids)
	}
}

// scanForLeaks searches every watched log file line by line and every
// request the watched upstreams received, and describes each occurrence of
// a generated token without showing it.
func scanForLeaks() []string {
	leakWatch.mu.Lock()
	files := append([]string(nil), leakWatch.logFiles...)
	ups := append([]*upstream(nil), leakWatch.upstreams...)
	leakWatch.mu.Unlock()

	var leaks []string
	for _, path := range files {
		leaks = append(leaks, scanLogFile(path)...)
	}
	for _, u := range ups {
		for i, req := range u.requests() {
			if ids := tokensIn(req.dump()); len(ids) > 0 {
				leaks = append(leaks, fmt.Sprintf("upstream %s request #%d (%s %s) contains the token of keys %q",
					u.addr(), i+1, req.Method, redact(req.RequestURI), ids))
			}
		}
	}
	return leaks
}

func scanLogFile(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{fmt.Sprintf("reading gateway log '%s': %v", path, err)}
	}
	defer f.Close()

	var leaks []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		if ids := tokensIn(sc.Bytes()); len(ids) > 0 {
			leaks = append(leaks, fmt.Sprintf("%s:%d contains the token of keys %q", path, n, ids))
		}
	}
	if err := sc.Err(); err != nil {
		leaks = append(leaks, fmt.Sprintf("reading gateway log '%s': %v", path, err))
	}
	return leaks
}
