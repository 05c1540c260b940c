package integrationtests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/awra/awragate/internal/testredis"
)

// chainKeyEnv is the environment variable that the audit tests' gateways
// read their chain_key from, and that 'awragate audit verify' reads.
const chainKeyEnv = "AWRA_AUDIT_CHAIN_KEY"

// auditStream is the stream key of the audit tests. It differs from the
// default so that a test that read the default stream would find nothing.
const auditStream = "it:audit"

// auditRig is one audit test's world: a private redis-server, an echoing
// upstream, a keys file with one reader key, a signed-URL key, a chain key
// and a spool directory, and the gateway that uses them. The gateway's
// process gets the chain key in its environment only, so the key never
// appears in a configuration file or in this process's environment.
type auditRig struct {
	redis    *testredis.Server
	client   *redis.Client
	echo     *echoUpstream
	reader   *testKey
	urlKey   urlKey
	keysFile string
	spoolDir string
	chainKey string
	instance string
	cfg      gatewayConfig
	gw       *gateway
}

var auditRigSeq atomic.Int64

// newAuditRig prepares everything but the gateway, which start runs. The
// instance name is unique per rig.
func newAuditRig(t *testing.T) *auditRig {
	t.Helper()
	rig := &auditRig{
		redis:    testredis.Start(t),
		echo:     startEchoUpstream(t),
		reader:   newTestKey(t, "audit-reader"),
		urlKey:   newURLKey(t, "kaudit"),
		spoolDir: filepath.Join(t.TempDir(), "spool"),
		chainKey: newChainKey(t),
		instance: fmt.Sprintf("it-%d", auditRigSeq.Add(1)),
	}
	rig.client = redisClient(t, rig.redis.URL())
	rig.keysFile = filepath.Join(t.TempDir(), "keys.json")
	writeKeysFile(t, rig.keysFile, rig.reader)
	rig.cfg = rig.config("")
	return rig
}

// newChainKey returns 32 random bytes as hex, registered for the leak
// scans under the name "chain-key".
func newChainKey(t testing.TB) string {
	t.Helper()
	var raw [32]byte
	rand.Read(raw[:]) // crypto/rand.Read never returns an error (Go 1.24 and later)
	key := hex.EncodeToString(raw[:])
	watchToken("chain-key", key)
	return key
}

// redisClient returns a client of url that the test closes at cleanup.
func redisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("redis.ParseURL(%q): %v", url, err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// auditRoutes are the routes of every audit test: API-key routes for two
// scopes, a signed-URL route and a 404 fallback. extraRoute is added
// first, so a reload can change the configuration without changing what
// the load sends.
func (rig *auditRig) auditRoutes(extraRoute string) string {
	proxy := fmt.Sprintf("reverse_proxy %s {\n\t\t\ttransport http {\n\t\t\t\tkeepalive_idle_conns_per_host 128\n\t\t\t}\n\t\t}", rig.echo.addr())
	return extraRoute + `
	handle /api/inventory/* {
		awra_api_key {
			scopes inventory:read
		}
		` + proxy + `
	}
	handle /api/sales/* {
		awra_api_key {
			scopes sales:write
		}
		` + proxy + `
	}
	handle /files/* {
		awra_signed_url {
			key ` + rig.urlKey.ID + ` {env.` + rig.urlKey.EnvName + `}
		}
		` + proxy + `
	}
	handle {
		respond ` + "`" + `{"error":"not found"}` + "`" + ` 404
	}
`
}

// config returns the rig's gateway configuration with extraRoute (see
// auditRoutes).
func (rig *auditRig) config(extraRoute string) gatewayConfig {
	return gatewayConfig{
		KeysFile:         rig.keysFile,
		KeysPollInterval: "100ms",
		Admin:            true,
		AwraOptions: fmt.Sprintf(`redis %s
request_id_header X-Awra-Request-Id
audit {
stream %s
spool_dir %s
chain_key {env.%s}
instance %s
}`, rig.redis.URL(), auditStream, rig.spoolDir, chainKeyEnv, rig.instance),
		Routes: rig.auditRoutes(extraRoute),
	}
}

// env returns the extra environment of the rig's gateway and CLI runs.
func (rig *auditRig) env() []string {
	return []string{chainKeyEnv + "=" + rig.chainKey}
}

// start runs the gateway on rig.cfg and stops it when the test ends.
func (rig *auditRig) start(t *testing.T) {
	t.Helper()
	rig.gw = startGatewayWithEnv(t, rig.cfg, rig.env())
}

// startGatewayWithEnv is startGateway for a process that gets env on top
// of this process's environment.
func startGatewayWithEnv(t testing.TB, cfg gatewayConfig, env []string) *gateway {
	t.Helper()
	suiteMustExist(t)
	const attempts = 3
	for attempt := 1; ; attempt++ {
		g := newGateway(t, cfg)
		err := g.startProcess(t, env)
		if err == nil {
			if err = g.waitReady(); err == nil {
				t.Cleanup(func() { g.stop(t) })
				return g
			}
			g.stop(t)
		}
		logText := readFileOrEmpty(g.logPath)
		if attempt < attempts && strings.Contains(logText, "address already in use") {
			t.Logf("gateway start attempt %d lost a port race; retrying with new ports", attempt)
			continue
		}
		t.Fatalf("starting the gateway: %v\nlog:\n%s", err, redact(logText))
	}
}

// signalAndWait sends sig to the gateway and waits up to gatewayStopTimeout for
// it to exit.
func (g *gateway) signalAndWait(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := g.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("sending %v to awragate (pid %d): %v", sig, g.cmd.Process.Pid, err)
	}
	select {
	case <-g.exited:
	case <-time.After(gatewayStopTimeout):
		_ = g.cmd.Process.Kill()
		<-g.exited
		t.Fatalf("awragate (pid %d) did not exit within %v of %v", g.cmd.Process.Pid, gatewayStopTimeout, sig)
	}
}

// restart starts the gateway again on the same configuration file, ports
// and spool directory, after it exited.
func (g *gateway) restart(t testing.TB, env []string) {
	t.Helper()
	select {
	case <-g.exited:
	default:
		t.Fatal("restart: the gateway is still running; stop it first")
	}
	if err := g.startProcess(t, env); err != nil {
		t.Fatal(err)
	}
	if err := g.waitReady(); err != nil {
		t.Fatalf("restarting the gateway: %v\nlog:\n%s", err, redact(readFileOrEmpty(g.logPath)))
	}
}

// runAuditCLI runs 'awragate audit args...' with the rig's chain key in
// its environment, and returns its outputs and exit code.
func (rig *auditRig) runAuditCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runURLCommand(t, rig.env(), suite.binary, append([]string{"audit"}, args...)...)
}

// verify runs 'awragate audit verify' on the rig's stream.
func (rig *auditRig) verify(t *testing.T) (stdout, stderr string, code int) {
	t.Helper()
	return rig.runAuditCLI(t, "verify", "--redis", rig.redis.URL(), "--stream", auditStream)
}

// echoUpstream responds to every request with 200 and copies the
// X-Awra-Request-Id it received (the rig's gateway sets request_id_header
// to that name) into X-Echo-Request-Id, so that a client learns the
// request id of an allowed request. It counts requests that arrive with a credential
// header, which the gateway must have removed.
type echoUpstream struct {
	srv         *http.Server
	ln          net.Listener
	credentials atomic.Int64
}

// echoRequestIDHeader carries the request id back to the client.
const echoRequestIDHeader = "X-Echo-Request-Id"

func startEchoUpstream(t *testing.T) *echoUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting the echo upstream: %v", err)
	}
	u := &echoUpstream{ln: ln}
	u.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != "" {
				u.credentials.Add(1)
			}
			w.Header().Set(echoRequestIDHeader, r.Header.Get("X-Awra-Request-Id"))
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
		}),
	}
	go func() {
		if err := u.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("echo upstream stopped: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := u.srv.Shutdown(ctx); err != nil {
			u.srv.Close()
		}
	})
	return u
}

func (u *echoUpstream) addr() string { return u.ln.Addr().String() }
