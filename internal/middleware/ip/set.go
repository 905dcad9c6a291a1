package ip

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ErrBadEntry is wrapped by ParseEntry's errors: the entry is neither an
// address nor a CIDR prefix Gatehouse accepts.
var ErrBadEntry = errors.New("not an IP address or CIDR prefix")

// ParseEntry parses one list entry: an address ("192.0.2.7", "2001:db8::1")
// or a CIDR prefix ("10.0.0.0/8", "2001:db8::/32"). An address is the
// prefix of its full length. An IPv4-mapped IPv6 entry
// ("::ffff:10.0.0.0/104") is turned into its IPv4 form, so it matches
// clients whichever way their address was recorded. Host bits are masked
// off ("10.1.2.3/8" is 10.0.0.0/8). A zone ("fe80::1%eth0") is refused: a
// zone names an interface on this host and says nothing about a client.
func ParseEntry(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.ContainsRune(s, '%') {
		return netip.Prefix{}, fmt.Errorf("%q: %w (zones such as %%eth0 are not allowed)", s, ErrBadEntry)
	}
	var p netip.Prefix
	if strings.ContainsRune(s, '/') {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("%q: %w", s, ErrBadEntry)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q: %w", s, ErrBadEntry)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			// Covers more than the mapped block: keep it as IPv6; client
			// addresses are unmapped before lookup, so say so.
			return netip.Prefix{}, fmt.Errorf("%q: %w (an IPv4-mapped prefix needs at least /96; write the IPv4 form)", s, ErrBadEntry)
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// span is an inclusive address range of one family.
type span struct{ lo, hi netip.Addr }

// Set is an immutable set of prefixes, stored as sorted, merged ranges per
// family so that Contains is a binary search. Safe for concurrent use.
type Set struct {
	v4, v6 []span
	n      int // prefixes given, for Len
}

// NewSet builds the set of prefixes (from ParseEntry).
func NewSet(prefixes []netip.Prefix) *Set {
	s := &Set{n: len(prefixes)}
	for _, p := range prefixes {
		sp := span{lo: p.Masked().Addr(), hi: lastAddr(p)}
		if sp.lo.Is4() {
			s.v4 = append(s.v4, sp)
		} else {
			s.v6 = append(s.v6, sp)
		}
	}
	s.v4, s.v6 = merge(s.v4), merge(s.v6)
	return s
}

// Len is the number of prefixes the set was built from.
func (s *Set) Len() int { return s.n }

// Contains reports whether a is in the set. a must already be normalised
// (unmapped, no zone); see Normalize. It does not allocate.
func (s *Set) Contains(a netip.Addr) bool {
	spans := s.v6
	if a.Is4() {
		spans = s.v4
	}
	// The last span starting at or before a is the only one that can hold it.
	i, found := slices.BinarySearchFunc(spans, a, func(sp span, a netip.Addr) int { return sp.lo.Compare(a) })
	if found {
		return true
	}
	return i > 0 && a.Compare(spans[i-1].hi) <= 0
}

// Normalize returns the form of a client address that Contains expects:
// an IPv4-mapped IPv6 address ("::ffff:192.0.2.1", as a dual-stack socket
// reports IPv4 peers) becomes IPv4, and a zone is dropped.
func Normalize(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	if a.Is4() {
		b := a.As4()
		setHostBits(b[:], p.Bits())
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	setHostBits(b[:], p.Bits())
	return netip.AddrFrom16(b)
}

func setHostBits(b []byte, bits int) {
	for i := range b {
		switch {
		case bits >= 8:
			bits -= 8
		case bits <= 0:
			b[i] = 0xff
		default:
			b[i] |= 0xff >> bits
			bits = 0
		}
	}
}

// merge sorts spans and joins overlapping or adjacent ones, so that the
// spans are disjoint and a binary search finds the only candidate.
func merge(spans []span) []span {
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo.Compare(b.lo) })
	out := spans[:1]
	for _, sp := range spans[1:] {
		last := &out[len(out)-1]
		next := last.hi.Next() // invalid when hi is the family's last address
		if sp.lo.Compare(last.hi) <= 0 || (next.IsValid() && sp.lo == next) {
			if sp.hi.Compare(last.hi) > 0 {
				last.hi = sp.hi
			}
			continue
		}
		out = append(out, sp)
	}
	return slices.Clip(out)
}
