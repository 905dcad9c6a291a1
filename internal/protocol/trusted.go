package protocol

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrBadTrustedEntry is returned (wrapped, with the entry's index and text)
// by NewTrustedSet for an entry that is neither an IP address nor a CIDR
// prefix.
var ErrBadTrustedEntry = errors.New("not an IP address or CIDR prefix")

// TrustedSet is the set of peers whose forwarding headers (X-Forwarded-*,
// Forwarded) are believed: the load balancers and proxies in front of
// Gatehouse. It is immutable after NewTrustedSet and safe for concurrent
// use. A nil *TrustedSet is valid and trusts no one.
type TrustedSet struct {
	v4 []netip.Prefix // IPv4 prefixes, masked
	v6 []netip.Prefix // IPv6 prefixes (never IPv4-mapped), masked
}

// NewTrustedSet parses list, whose entries are IP addresses ("10.0.0.7",
// "2001:db8::1") or CIDR prefixes ("10.0.0.0/8", "fd00::/8"), surrounding
// spaces ignored. A prefix with host bits set ("10.0.0.1/8") is masked to
// its network, like netip.Prefix.Masked. IPv4-mapped IPv6 entries
// ("::ffff:10.0.0.0/104") are stored as their IPv4 equivalent, so the set
// matches a peer however the socket reports it. Zones are not allowed.
// An empty list gives an empty set. Errors wrap ErrBadTrustedEntry.
func NewTrustedSet(list []string) (*TrustedSet, error) {
	s := &TrustedSet{}
	for i, raw := range list {
		entry := strings.TrimSpace(raw)
		p, err := parseTrustedEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies[%d] %q: %w", i, raw, err)
		}
		if p.Addr().Is4() {
			s.v4 = append(s.v4, p)
		} else {
			s.v6 = append(s.v6, p)
		}
	}
	return s, nil
}

func parseTrustedEntry(entry string) (netip.Prefix, error) {
	if strings.Contains(entry, "%") {
		return netip.Prefix{}, fmt.Errorf("zone not allowed: %w", ErrBadTrustedEntry)
	}
	var p netip.Prefix
	if strings.Contains(entry, "/") {
		var err error
		if p, err = netip.ParsePrefix(entry); err != nil {
			return netip.Prefix{}, ErrBadTrustedEntry
		}
	} else {
		a, err := netip.ParseAddr(entry)
		if err != nil {
			return netip.Prefix{}, ErrBadTrustedEntry
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	// ::ffff:a.b.c.d/n with n >= 96 is the IPv4 prefix a.b.c.d/(n-96).
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// Contains reports whether addr belongs to the set. An IPv4-mapped IPv6
// address (::ffff:10.1.2.3, as a dual-stack socket reports an IPv4 peer) is
// matched as IPv4; a zone is ignored. The invalid Addr is never contained.
// It does not allocate.
func (s *TrustedSet) Contains(addr netip.Addr) bool {
	if s == nil || !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	list := s.v6
	if addr.Is4() {
		list = s.v4
	}
	for _, p := range list {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Len reports the number of entries in the set (0 for nil).
func (s *TrustedSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.v4) + len(s.v6)
}
