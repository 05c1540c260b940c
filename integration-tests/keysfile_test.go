package integrationtests

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awra/awragate/policy"
)

// revocationBound is how soon a key revoked in the keys file must be
// denied by a running gateway.
const revocationBound = 2 * time.Second

// waitForDenial sends the request every 20 ms until it is denied with
// reason, and returns how long that took. It gives up after timeout, and
// fails at once on a response that is neither 200 nor the denial.
func waitForDenial(t *testing.T, c *http.Client, url string, header http.Header, reason string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		resp := get(t, c, url, header)
		elapsed := time.Since(start)
		if resp.Status != http.StatusOK {
			checkProblem(t, "GET "+url, resp, resp.Status, reason)
			return elapsed
		}
		if elapsed > timeout {
			t.Fatalf("GET %s still passes %v after the keys file changed, want %s", url, elapsed.Round(time.Millisecond), reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestKeyRevocationWithoutRestart(t *testing.T) {
	t.Parallel()
	reader := newTestKey(t, "reader")
	bystander := newTestKey(t, "bystander")
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	writeKeysFile(t, keysFile, reader, bystander)
	up := startUpstream(t)
	// The default keys_poll_interval is what operators get.
	gw := startGateway(t, gatewayConfig{KeysFile: keysFile, Routes: apiKeyRoutes, Upstream: up})
	c := clientFrom(t, "")
	url := gw.url("/api/inventory/items")

	checkAllowed(t, "GET with key reader before the revocation", get(t, c, url, bearer(reader.Token)))

	reader.Record.Status = policy.KeyRevoked
	reader.Record.UpdatedAt = time.Now().UTC().Truncate(time.Second)
	writeKeysFile(t, keysFile, reader, bystander)

	elapsed := waitForDenial(t, c, url, bearer(reader.Token), "key_revoked", 4*revocationBound)
	t.Logf("the revocation took effect %v after the keys file was replaced (bound %v)", elapsed.Round(time.Millisecond), revocationBound)
	if elapsed > revocationBound {
		t.Errorf("revocation took effect after %v, want at most %v", elapsed.Round(time.Millisecond), revocationBound)
	}

	checkAllowed(t, "GET with key bystander after the revocation", get(t, c, url, bearer(bystander.Token)))

	t.Run("new key accepted", func(t *testing.T) {
		newcomer := newTestKey(t, "newcomer")
		writeKeysFile(t, keysFile, reader, bystander, newcomer)
		deadline := time.Now().Add(4 * revocationBound)
		for {
			resp := get(t, c, url, bearer(newcomer.Token))
			if resp.Status == http.StatusOK {
				return
			}
			checkProblem(t, "GET with key newcomer", resp, http.StatusUnauthorized, "key_invalid")
			if time.Now().After(deadline) {
				t.Fatalf("key newcomer still unknown %v after it was added to the keys file", 4*revocationBound)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// keysFileJSON encodes keys as a keys file and lets edit change the
// decoded document before it is encoded again, to build files that
// policy.KeysFile cannot represent.
func keysFileJSON(t *testing.T, edit func(doc map[string]any), keys ...*testKey) []byte {
	t.Helper()
	f := policy.KeysFile{Version: policy.KeysFileVersion, Keys: []policy.KeyRecord{}}
	for _, k := range keys {
		f.Keys = append(f.Keys, k.Record)
	}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatalf("encoding the keys file: %v", err)
	}
	if edit == nil {
		return data
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("decoding the keys file: %v", err)
	}
	edit(doc)
	data, err = json.Marshal(doc)
	if err != nil {
		t.Fatalf("encoding the edited keys file: %v", err)
	}
	return data
}

func TestBrokenKeysFileKeepsRegistry(t *testing.T) {
	t.Parallel()
	reader := newTestKey(t, "reader")
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	writeKeysFile(t, keysFile, reader)
	up := startUpstream(t)
	gw := startGateway(t, gatewayConfig{KeysFile: keysFile, KeysPollInterval: "100ms", Routes: apiKeyRoutes, Upstream: up})
	c := clientFrom(t, "")
	url := gw.url("/api/inventory/items")

	// Each broken file also revokes reader where the format allows it,
	// so a partly applied file would show as a denial.
	revokedReader := *reader
	revokedReader.Record.Status = policy.KeyRevoked

	badNet := newTestKey(t, "bad-net")
	badNet.Record.AllowedCIDRs = []string{"10.0.0.300/8"}
	hostBits := newTestKey(t, "host-bits")
	hostBits.Record.AllowedCIDRs = []string{"10.0.0.1/8"}
	noExpiry := newTestKey(t, "no-expiry")
	noExpiry.Record.ExpiresAt = nil
	duplicate := newTestKey(t, "reader")
	badScope := newTestKey(t, "bad-scope", "inventory")

	tests := []struct {
		name string
		data []byte
		want []string // substrings of the logged error
	}{
		{"invalid JSON", []byte(`{"version": 1, "keys": [`), []string{"decoding keys file"}},
		{"empty file", []byte{}, []string{"decoding keys file"}},
		{"trailing data", append(keysFileJSON(t, nil, &revokedReader), "{}"...), []string{"after the JSON document"}},
		{"unsupported version", keysFileJSON(t, func(doc map[string]any) { doc["version"] = 2 }, &revokedReader), []string{"version 2"}},
		{"unknown field", keysFileJSON(t, func(doc map[string]any) {
			doc["keys"].([]any)[0].(map[string]any)["colour"] = "red"
		}, &revokedReader), []string{"'reader'", "colour"}},
		{"invalid CIDR", keysFileJSON(t, nil, &revokedReader, badNet), []string{"'bad-net'", "'allowed_cidrs'", "10.0.0.300/8"}},
		{"CIDR with host bits", keysFileJSON(t, nil, &revokedReader, hostBits), []string{"'host-bits'", "'allowed_cidrs'", "10.0.0.1/8"}},
		{"duplicate id", keysFileJSON(t, nil, &revokedReader, duplicate), []string{"'reader'", "'id'", "duplicate"}},
		{"key without expiry", keysFileJSON(t, nil, &revokedReader, noExpiry), []string{"'no-expiry'", "'expires_at'"}},
		{"invalid scope", keysFileJSON(t, nil, &revokedReader, badScope), []string{"'bad-scope'", "'scopes'"}},
	}

	seen := len(gw.logEntries(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeFileAtomic(t, keysFile, tt.data)
			entry, i := gw.waitForLogEntry(t, seen, 5*time.Second, "rejecting the keys file", func(e logEntry) bool {
				return strings.Contains(e.str("msg"), "keys file rejected")
			})
			seen = i + 1

			if entry.str("level") != "error" {
				t.Errorf("log level = %q, want error", entry.str("level"))
			}
			logged := entry.str("error")
			for _, want := range tt.want {
				if !strings.Contains(logged, want) {
					t.Errorf("logged error = %q, want it to contain %q", redact(logged), want)
				}
			}
			checkAllowed(t, "GET with key reader after a broken keys file", get(t, c, url, bearer(reader.Token)))
		})
	}

	t.Run("file removed", func(t *testing.T) {
		if err := os.Remove(keysFile); err != nil {
			t.Fatalf("removing the keys file: %v", err)
		}
		_, i := gw.waitForLogEntry(t, seen, 5*time.Second, "about the missing keys file", func(e logEntry) bool {
			return strings.Contains(e.str("msg"), "keys file unreadable")
		})
		seen = i + 1
		checkAllowed(t, "GET with key reader after the keys file was removed", get(t, c, url, bearer(reader.Token)))
	})

	t.Run("valid file applied again", func(t *testing.T) {
		writeKeysFile(t, keysFile, &revokedReader)
		waitForDenial(t, c, url, bearer(reader.Token), "key_revoked", 5*time.Second)
		gw.waitForLogEntry(t, seen, 5*time.Second, "loading the repaired keys file", func(e logEntry) bool {
			return e.str("msg") == "keys file loaded"
		})
	})
}

func TestGatewayStartWithBadKeysFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	reader := newTestKey(t, "reader")
	badNet := newTestKey(t, "bad-net")
	badNet.Record.AllowedCIDRs = []string{"10.0.0.300/8"}
	broken := filepath.Join(dir, "broken.json")
	writeKeysFile(t, broken, reader, badNet)

	tests := []struct {
		name     string
		keysFile string
		want     []string // substrings of the output
	}{
		{"missing file", filepath.Join(dir, "absent", "keys.json"), []string{filepath.Join(dir, "absent", "keys.json"), "no such file"}},
		{"invalid key", broken, []string{broken, "'bad-net'", "'allowed_cidrs'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, output := runGatewayUntilExit(t, gatewayConfig{KeysFile: tt.keysFile, Routes: apiKeyRoutes}, 20*time.Second)
			if code == 0 {
				t.Errorf("awragate run exit code = 0, want non-zero")
			}
			for _, want := range tt.want {
				if !strings.Contains(output, want) {
					t.Errorf("awragate run output does not contain %q; output:\n%s", want, redact(output))
				}
			}
		})
	}
}

func TestReloadKeepsKeysFileWatch(t *testing.T) {
	t.Parallel()
	reader := newTestKey(t, "reader")
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	writeKeysFile(t, keysFile, reader)
	up := startUpstream(t)
	cfg := gatewayConfig{KeysFile: keysFile, KeysPollInterval: "100ms", Admin: true, Routes: apiKeyRoutes, Upstream: up}
	gw := startGateway(t, cfg)
	c := clientFrom(t, "")

	checkAllowed(t, "GET /api/inventory/items before the reload", get(t, c, gw.url("/api/inventory/items"), bearer(reader.Token)))

	// The new configuration asks for another scope on the same route, so
	// the test can tell that it is in force.
	cfg.Routes = strings.Replace(apiKeyRoutes, "scopes inventory:read", "scopes inventory:write", 1)
	gw.reload(t, cfg)
	resp := getAfterReload(t, c, gw.url("/api/inventory/items"), bearer(reader.Token))
	checkProblem(t, "GET /api/inventory/items after the reload", resp, http.StatusForbidden, "scope_missing")
	checkAllowed(t, "GET /api/custom/items after the reload", get(t, c, gw.url("/api/custom/items"), http.Header{"X-Custom-Key": {reader.Token}}))

	// The old configuration's cleanup must not have stopped the watch.
	reader.Record.Status = policy.KeyRevoked
	writeKeysFile(t, keysFile, reader)
	waitForDenial(t, c, gw.url("/api/custom/items"), http.Header{"X-Custom-Key": {reader.Token}}, "key_revoked", 5*time.Second)
}
