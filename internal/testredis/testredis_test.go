package testredis

import (
	"net"
	"testing"
	"time"
)

func TestServerLifecycle(t *testing.T) {
	s := Start(t)
	if got, want := s.URL(), "redis://"+s.Addr()+"/0"; got != want {
		t.Fatalf("URL() = %q, want %q", got, want)
	}
	if !s.Running() {
		t.Fatal("Running() = false after Start, want true")
	}
	if err := probe(s.Addr(), s.cmd.Process.Pid); err != nil {
		t.Fatalf("probe(%s) after Start = %v, want nil", s.Addr(), err)
	}

	addr := s.Addr()
	s.Kill()
	if s.Running() {
		t.Fatal("Running() = true after Kill, want false")
	}
	if conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		conn.Close()
		t.Fatalf("dial %s after Kill succeeded, want connection refused", addr)
	}

	s.Restart(t)
	if got := s.Addr(); got != addr {
		t.Fatalf("Addr() after Restart = %s, want %s", got, addr)
	}
	if err := probe(s.Addr(), s.cmd.Process.Pid); err != nil {
		t.Fatalf("probe(%s) after Restart = %v, want nil", s.Addr(), err)
	}

	s.Stop()
	s.Stop() // a second Stop is a no-op
	if s.Running() {
		t.Fatal("Running() = true after Stop, want false")
	}
}

func TestProbeRejectsOtherServer(t *testing.T) {
	s := Start(t)
	if err := probe(s.Addr(), -1); err == nil {
		t.Fatal("probe with a wrong process id = nil, want an error")
	}
}

func TestStartTwiceGetsDistinctPorts(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers share address %s", a.Addr())
	}
}
