package protocol

import (
	"errors"
	"net/netip"
	"testing"
)

func TestNewTrustedSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		list    []string
		wantErr bool
		in, out []string // addresses that must / must not be contained
	}{
		{name: "empty", list: nil, out: []string{"10.0.0.1", "::1"}},
		{
			name: "ips and cidrs",
			list: []string{"10.0.0.0/8", " 192.0.2.7 ", "2001:db8::/32", "::1"},
			in:   []string{"10.1.2.3", "192.0.2.7", "2001:db8::5", "::1", "::ffff:10.9.9.9", "::ffff:192.0.2.7"},
			out:  []string{"11.0.0.1", "192.0.2.8", "2001:db9::1", "::2", "::ffff:11.0.0.1"},
		},
		{
			name: "host bits masked",
			list: []string{"10.0.0.1/8"},
			in:   []string{"10.200.0.1"},
		},
		{
			name: "ipv4-mapped entries match ipv4 peers",
			list: []string{"::ffff:172.16.0.0/108", "::ffff:192.0.2.1"},
			in:   []string{"172.16.5.5", "::ffff:172.31.0.1", "192.0.2.1"},
			out:  []string{"172.32.0.1", "192.0.2.2"},
		},
		{
			name: "ipv4 entries never match ipv6",
			list: []string{"0.0.0.0/0"},
			in:   []string{"203.0.113.1", "::ffff:203.0.113.1"},
			out:  []string{"2001:db8::1", "::1"},
		},
		{
			name: "zone in peer ignored",
			list: []string{"fe80::/10"},
			in:   []string{"fe80::1%eth0"},
		},
		{name: "garbage", list: []string{"10.0.0.0/8", "nope"}, wantErr: true},
		{name: "bad prefix len", list: []string{"10.0.0.0/33"}, wantErr: true},
		{name: "zone", list: []string{"fe80::1%eth0"}, wantErr: true},
		{name: "empty entry", list: []string{""}, wantErr: true},
		{name: "host:port", list: []string{"10.0.0.1:80"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewTrustedSet(tt.list)
			if tt.wantErr {
				if !errors.Is(err, ErrBadTrustedEntry) {
					t.Fatalf("err = %v, want ErrBadTrustedEntry", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range tt.in {
				if !s.Contains(netip.MustParseAddr(a)) {
					t.Errorf("Contains(%s) = false, want true", a)
				}
			}
			for _, a := range tt.out {
				if s.Contains(netip.MustParseAddr(a)) {
					t.Errorf("Contains(%s) = true, want false", a)
				}
			}
		})
	}
}

func TestTrustedSetNilAndInvalid(t *testing.T) {
	t.Parallel()
	var s *TrustedSet
	if s.Contains(netip.MustParseAddr("10.0.0.1")) || s.Len() != 0 {
		t.Error("nil set must trust no one")
	}
	all, err := NewTrustedSet([]string{"0.0.0.0/0", "::/0"})
	if err != nil {
		t.Fatal(err)
	}
	if all.Contains(netip.Addr{}) {
		t.Error("invalid Addr contained")
	}
	if all.Len() != 2 {
		t.Errorf("Len = %d, want 2", all.Len())
	}
}

func TestTrustedSetContainsAllocs(t *testing.T) {
	s, err := NewTrustedSet([]string{"10.0.0.0/8", "fd00::/8", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{
		netip.MustParseAddr("::ffff:10.0.0.1"),
		netip.MustParseAddr("fd00::1"),
		netip.MustParseAddr("203.0.113.9"),
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, a := range addrs {
			s.Contains(a)
		}
	})
	if allocs != 0 {
		t.Errorf("allocs = %v, want 0", allocs)
	}
}

func BenchmarkTrustedSetContains(b *testing.B) {
	s, err := NewTrustedSet([]string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8"})
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("::ffff:203.0.113.9")
	b.ReportAllocs()
	for b.Loop() {
		s.Contains(a)
	}
}
