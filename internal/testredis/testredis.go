// Package testredis runs a private redis-server for tests. Each Server
// listens on its own free 127.0.0.1 port, keeps nothing on disk (no RDB
// snapshots, no append-only file) and is stopped when the test ends.
//
// Tests that need Redis call Start and talk to Addr or URL. Tests of
// failure handling use Kill (SIGKILL, so the server loses its data as a
// crashed or failed-over server would) and Restart, which brings up an
// empty server on the same port.
package testredis

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is the redis-server executable that Start runs.
const Binary = "/usr/bin/redis-server"

const (
	// startAttempts bounds the retries when another process takes the
	// chosen port between the probe and the server's bind.
	startAttempts = 5

	// readyTimeout is how long Start waits for the first PING reply.
	readyTimeout = 10 * time.Second
)

// Server is one redis-server process owned by a test. Its methods are safe
// for concurrent use.
type Server struct {
	port int
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start runs a redis-server on a free loopback port in a temporary
// directory and waits until it replies to PING. The server is stopped by
// t.Cleanup. Start skips the test when redis-server is not installed and
// fails it when the server does not come up.
func Start(t testing.TB) *Server {
	t.Helper()

	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("redis-server not available at '%s' (install the redis-server package): %v", Binary, err)
	}

	s := &Server{dir: t.TempDir()}
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testredis: choosing a free port: %v", err)
		}
		s.port = port
		if lastErr = s.launch(); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("testredis: redis-server did not start after %d attempts: %v", startAttempts, lastErr)
	return nil
}

// Addr returns the server's address as host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// URL returns a redis:// URL of database 0 on the server.
func (s *Server) URL() string {
	return "redis://" + s.Addr() + "/0"
}

// Kill sends SIGKILL to the server and waits for it to exit. The data in
// memory is lost. Kill does nothing when the server is not running.
func (s *Server) Kill() {
	s.signal(syscall.SIGKILL)
}

// Stop sends SIGTERM to the server and waits for it to exit, escalating to
// SIGKILL after five seconds. Stop does nothing when the server is not
// running, so it is safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	s.clear(cmd)
}

// Restart starts an empty server on the same port after Kill or Stop, and
// fails the test when it does not come up. Restart on a running server
// stops it first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()

	s.Stop()
	var err error
	deadline := time.Now().Add(readyTimeout)
	for {
		// The old socket may linger for a moment after the process exits.
		if err = s.launch(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testredis: restarting redis-server on port %d: %v", s.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Running reports whether the server process is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	done := s.done
	running := s.cmd != nil
	s.mu.Unlock()
	if !running {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	<-done
	s.clear(cmd)
}

// clear drops the reference to cmd unless a Restart has already replaced
// it.
func (s *Server) clear(cmd *exec.Cmd) {
	s.mu.Lock()
	if s.cmd == cmd {
		s.cmd = nil
	}
	s.mu.Unlock()
}

// launch starts redis-server on s.port and waits for PING. On failure the
// process is gone and the error carries the server's output.
func (s *Server) launch() error {
	output := &bytes.Buffer{}
	cmd := exec.Command(Binary,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "yes",
		"--daemonize", "no",
		"--loglevel", "warning",
	)
	cmd.Stdout = output
	cmd.Stderr = output
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting '%s': %w", Binary, err)
	}

	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()

	if err := waitReady(s.Addr(), cmd.Process.Pid, done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%w; server output: %s", err, strings.TrimSpace(output.String()))
	}

	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// waitReady polls addr until the server with process id pid replies to PING,
// the process exits or readyTimeout passes. Checking the process id keeps a
// server that another test started on the same port from being taken for
// this one.
func waitReady(addr string, pid int, exited <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-exited:
			return errors.New("redis-server exited before replying to PING")
		default:
		}
		if probe(addr, pid) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server at %s did not reply to PING within %v", addr, readyTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// probe sends PING and INFO server in one write and checks that the reply
// is +PONG from the process pid.
func probe(addr string, pid int) error {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()

	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\nINFO server\r\n")); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("unexpected PING reply %q", line)
	}

	header, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(header, "$")))
	if err != nil || !strings.HasPrefix(header, "$") {
		return fmt.Errorf("unexpected INFO reply header %q", header)
	}
	info := make([]byte, size)
	if _, err := io.ReadFull(r, info); err != nil {
		return err
	}
	if !bytes.Contains(info, []byte("process_id:"+strconv.Itoa(pid)+"\r\n")) {
		return errors.New("another redis-server replied on the port")
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago. Another
// process may take it before redis-server binds, so Start retries.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, err
	}
	return port, nil
}
