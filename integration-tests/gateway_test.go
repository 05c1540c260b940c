package integrationtests

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"
)

const (
	// gatewayStartTimeout bounds the wait for a started gateway to accept
	// connections. Start-up took under 0.1 s in these tests, so the margin
	// is for loaded CI machines.
	gatewayStartTimeout = 10 * time.Second

	// gatewayStopTimeout bounds the graceful stop after SIGTERM before the
	// process is killed.
	gatewayStopTimeout = 10 * time.Second

	// trustedProxyIP is the loopback source address that the default
	// configuration trusts to set X-Forwarded-For. Linux routes all of
	// 127.0.0.0/8 to the loopback interface, so a client can dial from it.
	trustedProxyIP = "127.0.0.2"
)

// gatewayConfig describes one gateway. The harness adds the global options
// every test needs: free ports, auto_https off, a JSON log on stderr, the
// trusted proxies and the awra option.
type gatewayConfig struct {
	// KeysFile is the awra keys_file. Empty leaves it out, which suits
	// configurations without awra_api_key.
	KeysFile string

	// KeysPollInterval is the awra keys_poll_interval, for example
	// "100ms". Empty leaves the gateway's default.
	KeysPollInterval string

	// AwraOptions are more lines for the awra global option, for example
	// "redis redis://127.0.0.1:6390/0".
	AwraOptions string

	// Admin turns on the admin API on a free 127.0.0.1 port, which reload
	// needs. Otherwise the configuration says admin off.
	Admin bool

	// TrustedProxies are the networks allowed to set X-Forwarded-For.
	// Default: trustedProxyIP/32.
	TrustedProxies []string

	// Routes is the body of the gateway's site, which listens on
	// 127.0.0.1 and [::1]. It is a text/template executed with siteData,
	// so "reverse_proxy {{.Upstream}}" names the test's upstream.
	Routes string

	// LogLevel is the level of the default logger. Default: INFO, the
	// level a production gateway runs at.
	//
	// NOTE: at DEBUG, Caddy's own handlers (rewrite, uri) log request
	// headers and redact only Authorization, Cookie and Proxy-Authorization,
	// so an X-API-Key token reaches the log and the end-of-suite scan fails.
	LogLevel string

	// Upstream is the server that {{.Upstream}} names. It may be nil
	// when Routes does not proxy.
	Upstream *upstream
}

// siteData is what gatewayConfig.Routes can refer to.
type siteData struct {
	Upstream string // host:port
}

// gatewayPorts are the free ports a gateway listens on.
type gatewayPorts struct {
	HTTP  int
	Admin int // 0 when the admin API is off
}

// gateway is one running awragate process owned by a test.
type gateway struct {
	cfg        gatewayConfig
	ports      gatewayPorts
	configPath string
	logPath    string

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // set before exited is closed
}

var gatewaySeq atomic.Int64

// startGateway writes cfg as a Caddyfile, starts awragate on it and waits
// until both listeners accept connections. The gateway is stopped with
// SIGTERM when the test ends. A start that loses a port race to another
// process is retried with new ports.
func startGateway(t testing.TB, cfg gatewayConfig) *gateway {
	t.Helper()
	suiteMustExist(t)

	const attempts = 3
	for attempt := 1; ; attempt++ {
		g, err := launchGateway(t, cfg)
		if err == nil {
			t.Cleanup(func() { g.stop(t) })
			return g
		}
		logText := readFileOrEmpty(g.logPath)
		if attempt < attempts && strings.Contains(logText, "address already in use") {
			t.Logf("gateway start attempt %d lost a port race; retrying with new ports", attempt)
			continue
		}
		t.Fatalf("starting the gateway: %v\nconfig:\n%s\nlog:\n%s", err, readFileOrEmpty(g.configPath), redact(logText))
	}
}

// launchGateway starts one attempt. On error the returned gateway still
// names its config and log files, and its process has ended.
func launchGateway(t testing.TB, cfg gatewayConfig) (*gateway, error) {
	t.Helper()
	g := newGateway(t, cfg)
	if err := g.startProcess(t, nil); err != nil {
		return g, err
	}
	if err := g.waitReady(); err != nil {
		g.stop(t)
		return g, err
	}
	return g, nil
}

// runGatewayUntilExit runs awragate on cfg, for configurations that must
// fail to start, and returns its exit code and output. A gateway still
// running after timeout is stopped and fails the test.
func runGatewayUntilExit(t testing.TB, cfg gatewayConfig, timeout time.Duration) (int, string) {
	t.Helper()
	suiteMustExist(t)
	g := newGateway(t, cfg)
	if err := g.startProcess(t, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.exited:
	case <-time.After(timeout):
		g.stop(t)
		t.Fatalf("awragate kept running for %v, want it to exit; log:\n%s", timeout, redact(readFileOrEmpty(g.logPath)))
	}
	return g.cmd.ProcessState.ExitCode(), readFileOrEmpty(g.logPath)
}

// newGateway picks free ports for cfg and writes its Caddyfile.
func newGateway(t testing.TB, cfg gatewayConfig) *gateway {
	t.Helper()
	g := &gateway{cfg: cfg, ports: gatewayPorts{HTTP: freePort(t)}}
	if cfg.Admin {
		g.ports.Admin = freePort(t)
	}
	g.configPath = filepath.Join(t.TempDir(), "Caddyfile")
	writeFileAtomic(t, g.configPath, g.renderCaddyfile(t, cfg))
	return g
}

// startProcess runs "awragate run --config" on g's Caddyfile, with env
// added to its environment and stdout and stderr going to a new log file in
// the suite directory, so that a restarted gateway's log is scanned for
// leaks too. Caddy's config and data directories point into the test's
// temporary directory so that a test run never writes to the user's home.
func (g *gateway) startProcess(t testing.TB, env []string) error {
	t.Helper()
	g.logPath = filepath.Join(suite.dir, fmt.Sprintf("%s-%d.log", fileSafe(t.Name()), gatewaySeq.Add(1)))
	logFile, err := os.Create(g.logPath)
	if err != nil {
		return fmt.Errorf("creating the gateway log: %w", err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	watchLogFile(g.logPath)

	home := t.TempDir()
	cmd := exec.Command(suite.binary, "run", "--config", g.configPath)
	cmd.Env = append(os.Environ(),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"XDG_DATA_HOME="+filepath.Join(home, "data"),
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running '%s': %w", suite.binary, err)
	}

	// The goroutine closes its own channel, not g.exited, which a restart
	// replaces.
	exited := make(chan struct{})
	g.cmd, g.exited = cmd, exited
	go func() {
		g.waitErr = cmd.Wait()
		close(exited)
	}()
	return nil
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileSafe(name string) string {
	return unsafeFileChars.ReplaceAllString(name, "_")
}

// renderCaddyfile builds the configuration of cfg on g's ports.
func (g *gateway) renderCaddyfile(t testing.TB, cfg gatewayConfig) []byte {
	t.Helper()
	var data siteData
	if cfg.Upstream != nil {
		data.Upstream = cfg.Upstream.addr()
	}
	tmpl, err := template.New("routes").Option("missingkey=error").Parse(cfg.Routes)
	if err != nil {
		t.Fatalf("parsing the routes template: %v", err)
	}
	var routes bytes.Buffer
	if err := tmpl.Execute(&routes, data); err != nil {
		t.Fatalf("executing the routes template: %v", err)
	}

	proxies := cfg.TrustedProxies
	if len(proxies) == 0 {
		proxies = []string{trustedProxyIP + "/32"}
	}
	admin := "admin off"
	if g.ports.Admin != 0 {
		admin = fmt.Sprintf("admin 127.0.0.1:%d", g.ports.Admin)
	}
	level := cfg.LogLevel
	if level == "" {
		level = "INFO"
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n\t%s\n", admin)
	b.WriteString("\tpersist_config off\n\tauto_https off\n")
	fmt.Fprintf(&b, "\thttp_port %d\n", g.ports.HTTP)
	b.WriteString("\tgrace_period 2s\n")
	fmt.Fprintf(&b, "\tlog {\n\t\toutput stderr\n\t\tformat json\n\t\tlevel %s\n\t}\n", level)
	b.WriteString("\tservers {\n")
	fmt.Fprintf(&b, "\t\ttrusted_proxies static %s\n", strings.Join(proxies, " "))
	b.WriteString("\t\ttrusted_proxies_strict\n\t\tclient_ip_headers X-Forwarded-For\n\t}\n")
	b.WriteString(awraOption(cfg))
	b.WriteString("}\n\n")
	fmt.Fprintf(&b, ":%d {\n\tbind 127.0.0.1 [::1]\n", g.ports.HTTP)
	fmt.Fprintf(&b, "\n\t%s\n}\n", strings.TrimSpace(routes.String()))
	return b.Bytes()
}

// awraOption renders the awra global option of cfg, or nothing when cfg
// sets none of its settings.
func awraOption(cfg gatewayConfig) string {
	var lines []string
	if cfg.KeysFile != "" {
		lines = append(lines, "keys_file "+strconv.Quote(cfg.KeysFile))
	}
	if cfg.KeysPollInterval != "" {
		lines = append(lines, "keys_poll_interval "+cfg.KeysPollInterval)
	}
	for line := range strings.Lines(cfg.AwraOptions) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return "\tawra {\n\t\t" + strings.Join(lines, "\n\t\t") + "\n\t}\n"
}

// freePort returns a TCP port that is free on both 127.0.0.1 and ::1 at
// the time of the call.
func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		ln4, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		port := ln4.Addr().(*net.TCPAddr).Port
		ln6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port)))
		ln4.Close()
		if err == nil {
			ln6.Close()
			return port
		}
	}
	t.Fatal("finding a free port: no port was free on both 127.0.0.1 and ::1 in 20 tries")
	return 0
}

// waitReady polls both listeners until they accept a connection, the
// process exits or gatewayStartTimeout passes.
func (g *gateway) waitReady() error {
	deadline := time.Now().Add(gatewayStartTimeout)
	for _, addr := range []string{g.addr(), g.addr6()} {
		for {
			conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case <-g.exited:
				return fmt.Errorf("awragate exited before listening on %s: %v", addr, g.waitErr)
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("awragate did not listen on %s within %v", addr, gatewayStartTimeout)
			}
		}
	}
	return nil
}

// stop sends SIGTERM to the gateway's process and waits for it to exit,
// killing it after gatewayStopTimeout.
func (g *gateway) stop(t testing.TB) {
	t.Helper()
	select {
	case <-g.exited:
		return
	default:
	}
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Logf("sending SIGTERM to awragate (pid %d): %v", g.cmd.Process.Pid, err)
	}
	select {
	case <-g.exited:
	case <-time.After(gatewayStopTimeout):
		t.Errorf("awragate (pid %d) did not exit within %v of SIGTERM; killing it", g.cmd.Process.Pid, gatewayStopTimeout)
		_ = g.cmd.Process.Kill()
		<-g.exited
	}
}

// addr returns the gateway's IPv4 listener address.
func (g *gateway) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(g.ports.HTTP)) }

// addr6 returns the gateway's IPv6 listener address.
func (g *gateway) addr6() string { return net.JoinHostPort("::1", strconv.Itoa(g.ports.HTTP)) }

// url returns the IPv4 URL of path on the gateway.
func (g *gateway) url(path string) string { return "http://" + g.addr() + path }

// url6 returns the IPv6 URL of path on the gateway.
func (g *gateway) url6(path string) string { return "http://" + g.addr6() + path }

// reload replaces the running configuration with cfg through the admin
// API, keeping the gateway's ports. It needs cfg.Admin on both configs.
func (g *gateway) reload(t testing.TB, cfg gatewayConfig) {
	t.Helper()
	if g.ports.Admin == 0 || !cfg.Admin {
		t.Fatal("reload needs the admin API: set gatewayConfig.Admin")
	}
	body := g.renderCaddyfile(t, cfg)
	writeFileAtomic(t, g.configPath, body)

	adminURL := fmt.Sprintf("http://127.0.0.1:%d/load", g.ports.Admin)
	req, err := http.NewRequest(http.MethodPost, adminURL, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("building the reload request: %v", err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := plainClient().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", adminURL, err)
	}
	defer resp.Body.Close()
	msg := readAllOrEmpty(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s = %d, want 200; body: %s", adminURL, resp.StatusCode, redact(msg))
	}
	g.cfg = cfg
}

func readFileOrEmpty(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

func readAllOrEmpty(r io.Reader) string {
	data, _ := io.ReadAll(io.LimitReader(r, 1<<20))
	return string(data)
}
