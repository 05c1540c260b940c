package policy

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

func TestAllowlistContains(t *testing.T) {
	al, err := NewAllowlist([]string{"203.0.113.0/24", "2001:db8:1::/48", "198.51.100.7"})
	if err != nil {
		t.Fatalf("NewAllowlist: %v", err)
	}
	tests := []struct {
		addr string
		want bool
	}{
		{"203.0.113.1", true},
		{"203.0.113.255", true},
		{"203.0.114.0", false},
		{"198.51.100.7", true},
		{"198.51.100.8", false},
		{"2001:db8:1::1", true},
		{"2001:db8:1:ffff::1", true},
		{"2001:db8:2::1", false},
		// IPv4-mapped IPv6 addresses are judged as the IPv4 address.
		{"::ffff:203.0.113.9", true},
		{"::ffff:192.0.2.1", false},
		{"fe80::1%eth0", false},
		{"::1", false},
	}
	for _, tt := range tests {
		addr := netip.MustParseAddr(tt.addr)
		if got := al.Contains(addr); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if al.Contains(netip.Addr{}) {
		t.Error("Contains(invalid address) = true, want false")
	}
}

func TestAllowlistEveryAddress(t *testing.T) {
	al, err := NewAllowlist([]string{"0.0.0.0/0"})
	if err != nil {
		t.Fatalf("NewAllowlist: %v", err)
	}
	if !al.Contains(netip.MustParseAddr("192.0.2.1")) || !al.Contains(netip.MustParseAddr("::ffff:192.0.2.1")) {
		t.Error("0.0.0.0/0 does not contain an IPv4 address")
	}
	if al.Contains(netip.MustParseAddr("2001:db8::1")) {
		t.Error("0.0.0.0/0 contains an IPv6 address; every IPv6 address needs ::/0")
	}
	if !IsEveryAddress(al.Prefixes()[0]) {
		t.Error("IsEveryAddress(0.0.0.0/0) = false")
	}
}

func TestParseCIDR(t *testing.T) {
	good := map[string]string{
		"10.0.0.0/8":          "10.0.0.0/8",
		"2001:db8::/32":       "2001:db8::/32",
		"192.0.2.1":           "192.0.2.1/32",
		"::1":                 "::1/128",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
	}
	for in, want := range good {
		p, err := ParseCIDR(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseCIDR(%q) = %v, %v; want %s, nil", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "10.0.0.1/8", "300.0.0.0/8", "10.0.0.0/", "fe80::/10%eth0", "::ffff:0:0/95", "example.com"} {
		if _, err := ParseCIDR(bad); err == nil {
			t.Errorf("ParseCIDR(%q) succeeded; want an error", bad)
		}
	}
}

// TestAllowlistRemembersOnlyMatches checks the last-match shortcut: after
// a contained address, other addresses are still judged by the networks.
func TestAllowlistRemembersOnlyMatches(t *testing.T) {
	al, err := NewAllowlist([]string{"203.0.113.0/24", "2001:db8:1::/48"})
	if err != nil {
		t.Fatalf("NewAllowlist: %v", err)
	}
	steps := []struct {
		addr string
		want bool
	}{
		{"203.0.113.7", true},
		{"203.0.113.7", true},
		{"203.0.114.7", false},
		{"::ffff:203.0.113.7", true},
		{"203.0.113.8", true},
		{"203.0.113.7", true},
		{"2001:db8:1::7", true},
		{"2001:db8:2::7", false},
		{"2001:db8:1::7%eth0", true},
		{"198.51.100.7", false},
	}
	for i, step := range steps {
		if got := al.Contains(netip.MustParseAddr(step.addr)); got != step.want {
			t.Errorf("step %d: Contains(%s) = %v, want %v", i+1, step.addr, got, step.want)
		}
	}
}

// TestAllowlistConcurrentCallers checks allowed and rejected addresses from
// several goroutines at once. Under -race it also looks for data races.
func TestAllowlistConcurrentCallers(t *testing.T) {
	al, err := NewAllowlist([]string{"203.0.113.0/24"})
	if err != nil {
		t.Fatalf("NewAllowlist: %v", err)
	}
	addrs := []struct {
		addr netip.Addr
		want bool
	}{
		{netip.MustParseAddr("203.0.113.1"), true},
		{netip.MustParseAddr("203.0.113.2"), true},
		{netip.MustParseAddr("192.0.2.1"), false},
		{netip.MustParseAddr("2001:db8::1"), false},
	}
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				a := addrs[(g+i)%len(addrs)]
				if al.Contains(a.addr) != a.want {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d results of Contains differed from the networks, want 0", n)
	}
}
