package policy

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/yl2chen/cidranger"
)

// ParseCIDR reads one network of an allowlist. It accepts IPv4 and IPv6
// prefixes in CIDR form, and a bare address as a single-host network. A
// prefix with host bits set (10.0.0.1/8) is rejected because it usually
// hides a typing mistake.
func ParseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid network '%s': write a CIDR such as 203.0.113.0/24 or 2001:db8::/32, or a single address", s)
		}
		addr = addr.Unmap()
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}

	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid network '%s': write a CIDR such as 203.0.113.0/24 or 2001:db8::/32", s)
	}
	if p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid network '%s': zones are not allowed", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("invalid network '%s': host bits are set; did you mean '%s'?", s, p.Masked())
	}
	if p.Addr().Is4In6() {
		// ::ffff:10.0.0.0/104 means 10.0.0.0/8: store the plain IPv4 form,
		// because client addresses are unmapped before every test.
		bits := p.Bits() - 96
		if bits < 0 {
			return netip.Prefix{}, fmt.Errorf("invalid network '%s': an IPv4-mapped prefix needs at least 96 bits", s)
		}
		return netip.PrefixFrom(p.Addr().Unmap(), bits), nil
	}
	return p, nil
}

// IsEveryAddress reports whether p admits every IPv4 or every IPv6 address.
func IsEveryAddress(p netip.Prefix) bool {
	return p.Bits() == 0
}

// Allowlist is a compiled set of networks backed by a cidranger trie. Its
// networks are fixed by NewAllowlist, and it is safe for concurrent use.
type Allowlist struct {
	ranger   cidranger.Ranger
	prefixes []netip.Prefix

	// lastMatch is the last address the trie found contained, so that a
	// repeat caller costs one comparison instead of a trie walk. The
	// networks never change, so a stored address stays contained.
	lastMatch atomic.Pointer[netip.Addr]
}

// NewAllowlist compiles networks written as ParseCIDR accepts them.
func NewAllowlist(cidrs []string) (*Allowlist, error) {
	al := &Allowlist{ranger: cidranger.NewPCTrieRanger()}
	for _, c := range cidrs {
		p, err := ParseCIDR(c)
		if err != nil {
			return nil, err
		}
		ipnet := net.IPNet{
			IP:   net.IP(p.Addr().AsSlice()),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}
		if err := al.ranger.Insert(cidranger.NewBasicRangerEntry(ipnet)); err != nil {
			return nil, fmt.Errorf("adding network '%s': %w", c, err)
		}
		al.prefixes = append(al.prefixes, p)
	}
	return al, nil
}

// Contains reports whether addr lies in one of the networks. An
// IPv4-mapped IPv6 address (::ffff:203.0.113.7) is unmapped first, so it
// matches IPv4 networks only. An invalid address is never contained.
func (al *Allowlist) Contains(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	if last := al.lastMatch.Load(); last != nil && *last == addr {
		return true
	}

	var buf [16]byte
	var ip net.IP
	if addr.Is4() {
		a4 := addr.As4()
		copy(buf[:4], a4[:])
		ip = buf[:4]
	} else {
		buf = addr.As16()
		ip = buf[:]
	}
	ok, err := al.ranger.Contains(ip)
	if err != nil || !ok {
		return false
	}
	match := addr // copied here, so that only a new match allocates
	al.lastMatch.Store(&match)
	return true
}

// Prefixes returns the networks of the allowlist in the order given.
func (al *Allowlist) Prefixes() []netip.Prefix {
	return al.prefixes
}
