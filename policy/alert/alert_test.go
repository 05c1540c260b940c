package alert

import (
	"math"
	"net/netip"
	"testing"
	"time"
)

func TestSourceNetwork(t *testing.T) {
	tests := []struct {
		name string
		addr string
		want string
	}{
		{"ipv4", "203.0.113.77", "203.0.113.0/24"},
		{"ipv4 network address", "198.51.100.0", "198.51.100.0/24"},
		{"ipv6", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"ipv4-mapped ipv6", "::ffff:203.0.113.9", "203.0.113.0/24"},
		{"ipv6 with zone", "fe80::1%eth0", "fe80::/64"},
		{"loopback", "127.0.0.1", "127.0.0.0/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SourceNetwork(netip.MustParseAddr(tt.addr))
			if got.String() != tt.want {
				t.Errorf("SourceNetwork(%s) = %s, want %s", tt.addr, got, tt.want)
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		if got := SourceNetwork(netip.Addr{}); got.IsValid() {
			t.Errorf("SourceNetwork(invalid) = %s, want the zero prefix", got)
		}
	})
}

func TestGroupOf(t *testing.T) {
	b1 := Bypass{KeyID: "k1", Reason: "ip_not_allowed", ClientIP: netip.MustParseAddr("203.0.113.1")}
	b2 := b1
	b2.ClientIP = netip.MustParseAddr("203.0.113.200")
	b3 := b1
	b3.ClientIP = netip.MustParseAddr("203.0.114.1")

	if GroupOf(b1) != GroupOf(b2) {
		t.Errorf("GroupOf differs for two addresses of one /24: %v, %v", GroupOf(b1), GroupOf(b2))
	}
	if GroupOf(b1) == GroupOf(b3) {
		t.Errorf("GroupOf is equal for two /24 networks: %v", GroupOf(b1))
	}
	if got, want := GroupOf(b1).String(), "k1|ip_not_allowed|203.0.113.0/24"; got != want {
		t.Errorf("GroupOf(b1).String() = %q, want %q", got, want)
	}
}

func TestBackoff(t *testing.T) {
	const min, max = time.Second, time.Minute
	tests := []struct {
		name    string
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{"first without jitter", 1, 0, 500 * time.Millisecond},
		{"first with full jitter", 1, 0.999999, time.Second - time.Microsecond},
		{"third doubles twice", 3, 0, 2 * time.Second},
		{"capped at max", 20, 0, 30 * time.Second},
		{"huge attempt stays capped", math.MaxInt32, 1, time.Minute},
		{"attempt zero counts as one", 0, 0, 500 * time.Millisecond},
		{"jitter below zero clamps", 1, -5, 500 * time.Millisecond},
		{"jitter above one clamps", 1, 5, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Backoff(tt.attempt, min, max, tt.jitter)
			if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("Backoff(%d, %v, %v, %v) = %v, want %v", tt.attempt, min, max, tt.jitter, got, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"https://siem.example.com/hooks/awra", "https://siem.example.com/hooks/awra"},
		{"https://siem.example.com/hooks?token=s3cret", "https://siem.example.com/hooks"},
		{"https://user:pass@siem.example.com/x#frag", "https://siem.example.com/x"},
		{"http://127.0.0.1:9099/alerts", "http://127.0.0.1:9099/alerts"},
		{"://bad", "(unparsable URL)"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
