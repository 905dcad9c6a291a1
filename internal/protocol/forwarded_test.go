package protocol

import (
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

func mustTrusted(t testing.TB, list ...string) *TrustedSet {
	t.Helper()
	s, err := NewTrustedSet(list)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := mustTrusted(t, "10.0.0.0/8", "fd00::/8")
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"untrusted peer ignores header", "203.0.113.5", []string{"198.51.100.1"}, "203.0.113.5"},
		{"untrusted mapped peer unmapped", "::ffff:203.0.113.5", nil, "203.0.113.5"},
		{"trusted peer, no header", "10.0.0.1", nil, "10.0.0.1"},
		{"trusted peer, one client", "10.0.0.1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"skips trusted hops from the right", "10.0.0.1", []string{"198.51.100.1, 10.0.0.2, 10.0.0.3"}, "198.51.100.1"},
		{"forged left entries ignored", "10.0.0.1", []string{"1.2.3.4, 198.51.100.1, 10.0.0.2"}, "198.51.100.1"},
		{"several fields are one list", "10.0.0.1", []string{"1.2.3.4, 198.51.100.1", "10.0.0.2"}, "198.51.100.1"},
		{"all trusted gives leftmost", "10.0.0.1", []string{"10.0.0.9, 10.0.0.2"}, "10.0.0.9"},
		{"garbage stops walk at last good", "10.0.0.1", []string{"198.51.100.1, unknown, 10.0.0.2"}, "10.0.0.2"},
		{"garbage at right returns peer", "10.0.0.1", []string{"198.51.100.1, bogus"}, "10.0.0.1"},
		{"empty elements skipped", "10.0.0.1", []string{" ,198.51.100.1 , ,"}, "198.51.100.1"},
		{"ipv4 with port", "10.0.0.1", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"ipv6 bracketed with port", "10.0.0.1", []string{"[2001:db8::1]:4711"}, "2001:db8::1"},
		{"ipv6 bracketed", "10.0.0.1", []string{"[2001:db8::1]"}, "2001:db8::1"},
		{"ipv6 bare", "fd00::1", []string{"2001:db8::1, fd00::2"}, "2001:db8::1"},
		{"ipv6 bare with port is garbage", "10.0.0.1", []string{"2001:db8::1:80:x"}, "10.0.0.1"},
		{"mapped entry unmapped", "10.0.0.1", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"mapped trusted entry skipped", "10.0.0.1", []string{"198.51.100.1, ::ffff:10.0.0.7"}, "198.51.100.1"},
		{"zone refused", "10.0.0.1", []string{"fe80::1%eth0"}, "10.0.0.1"},
		{"bad port", "10.0.0.1", []string{"198.51.100.1:http"}, "10.0.0.1"},
		{"unclosed bracket", "10.0.0.1", []string{"[2001:db8::1"}, "10.0.0.1"},
		{"ipv4 in brackets refused", "10.0.0.1", []string{"[198.51.100.1]"}, "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for _, v := range tt.xff {
				h.Add("X-Forwarded-For", v)
			}
			got := ClientIP(netip.MustParseAddr(tt.remote), strictHeader{t, h}, trusted)
			if got != netip.MustParseAddr(tt.want) {
				t.Errorf("ClientIP = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClientIPAllocs(t *testing.T) {
	trusted := mustTrusted(t, "10.0.0.0/8")
	h := hdr("X-Forwarded-For", "198.51.100.1, [2001:db8::1]:80, 10.0.0.2, 10.0.0.3")
	for _, remote := range []string{"203.0.113.5", "10.0.0.1"} {
		peer := netip.MustParseAddr(remote)
		if a := testing.AllocsPerRun(100, func() { ClientIP(peer, h, trusted) }); a != 0 {
			t.Errorf("remote %s: allocs = %v, want 0", remote, a)
		}
	}
}

func TestSetForwarded(t *testing.T) {
	t.Parallel()
	v4 := netip.MustParseAddr("192.0.2.10")
	v6 := netip.MustParseAddr("2001:db8::10")
	tests := []struct {
		name    string
		in      http.Header
		peer    netip.Addr
		trusted bool
		proto   string
		host    string
		want    http.Header
	}{
		{
			name: "untrusted replaces everything",
			in:   hdr("X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil", "Forwarded", "for=6.6.6.6", "Accept", "*/*"),
			peer: v4, proto: "http", host: "api.example.com",
			want: hdr("X-Forwarded-For", "192.0.2.10", "X-Forwarded-Proto", "http", "X-Forwarded-Host", "api.example.com",
				"Forwarded", "for=192.0.2.10;proto=http;host=api.example.com", "Accept", "*/*"),
		},
		{
			name: "trusted appends and keeps",
			in: hdr("X-Forwarded-For", "198.51.100.1", "X-Forwarded-For", "10.0.0.2", "X-Forwarded-Proto", "https",
				"X-Forwarded-Host", "www.example.com", "Forwarded", `for=198.51.100.1;proto=https`),
			peer: v4, trusted: true, proto: "http", host: "internal:8080",
			want: hdr("X-Forwarded-For", "198.51.100.1, 10.0.0.2, 192.0.2.10", "X-Forwarded-Proto", "https",
				"X-Forwarded-Host", "www.example.com", "Forwarded", `for=198.51.100.1;proto=https, for=192.0.2.10;proto=http;host="internal:8080"`),
		},
		{
			name: "trusted without incoming fields sets ours",
			in:   hdr(), peer: v4, trusted: true, proto: "https", host: "a.example",
			want: hdr("X-Forwarded-For", "192.0.2.10", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "a.example",
				"Forwarded", "for=192.0.2.10;proto=https;host=a.example"),
		},
		{
			name: "ipv6 peer quoted in Forwarded, bare in XFF",
			in:   hdr(), peer: v6, proto: "https", host: "[2001:db8::1]:443",
			want: hdr("X-Forwarded-For", "2001:db8::10", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "[2001:db8::1]:443",
				"Forwarded", `for="[2001:db8::10]";proto=https;host="[2001:db8::1]:443"`),
		},
		{
			name: "mapped peer written as ipv4",
			in:   hdr(), peer: netip.MustParseAddr("::ffff:192.0.2.10"), proto: "http", host: "h",
			want: hdr("X-Forwarded-For", "192.0.2.10", "X-Forwarded-Proto", "http", "X-Forwarded-Host", "h",
				"Forwarded", "for=192.0.2.10;proto=http;host=h"),
		},
		{
			name: "invalid peer untrusted: no XFF, for=unknown",
			in:   hdr("X-Forwarded-For", "6.6.6.6"), proto: "http", host: "h",
			want: hdr("X-Forwarded-Proto", "http", "X-Forwarded-Host", "h", "Forwarded", "for=unknown;proto=http;host=h"),
		},
		{
			name: "invalid peer trusted keeps chain",
			in:   hdr("X-Forwarded-For", "198.51.100.1"), trusted: true, proto: "http",
			want: hdr("X-Forwarded-For", "198.51.100.1", "X-Forwarded-Proto", "http", "Forwarded", "for=unknown;proto=http"),
		},
		{
			name: "unsafe proto and host omitted",
			in:   hdr("X-Forwarded-Proto", "x", "X-Forwarded-Host", "y"), peer: v4, proto: "ht tp", host: "a\r\nX-Evil: 1",
			want: hdr("X-Forwarded-For", "192.0.2.10", "Forwarded", "for=192.0.2.10"),
		},
		{
			name: "host with quote escaped",
			in:   hdr(), peer: v4, proto: "http", host: `a"b\c d`,
			want: hdr("X-Forwarded-For", "192.0.2.10", "X-Forwarded-Proto", "http", "X-Forwarded-Host", `a"b\c d`,
				"Forwarded", `for=192.0.2.10;proto=http;host="a\"b\\c d"`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/separate out", func(t *testing.T) {
			t.Parallel()
			out := tt.in.Clone()
			SetForwarded(strictHeader{t, out}, strictHeader{t, tt.in}, tt.peer, tt.trusted, tt.proto, tt.host)
			if !reflect.DeepEqual(out, tt.want) {
				t.Errorf("got  %v\nwant %v", out, tt.want)
			}
		})
		t.Run(tt.name+"/value builder", func(t *testing.T) {
			t.Parallel()
			// A tiny arena makes the appends grow past the lent storage;
			// a roomy one makes the values alias it.
			for _, room := range []int{1, 512} {
				h := &arenaHeader{Header: tt.in.Clone(), arena: make([]byte, 0, room)}
				SetForwarded(h, h, tt.peer, tt.trusted, tt.proto, tt.host)
				if !reflect.DeepEqual(h.Header, tt.want) {
					t.Errorf("room %d: got  %v\nwant %v", room, h.Header, tt.want)
				}
			}
		})
		t.Run(tt.name+"/in place", func(t *testing.T) {
			t.Parallel()
			h := tt.in.Clone()
			SetForwarded(h, h, tt.peer, tt.trusted, tt.proto, tt.host)
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("got  %v\nwant %v", h, tt.want)
			}
		})
	}
}

// arenaHeader is a ValueBuilder like the engine's header: values set with
// SetBytes view its arena, so a value SetForwarded built over storage it
// then reuses shows up as a wrong field.
type arenaHeader struct {
	http.Header
	arena []byte
}

func (h *arenaHeader) ValueBuf() []byte { return h.arena[len(h.arena):len(h.arena)] }

func (h *arenaHeader) SetBytes(name string, b []byte) {
	start := len(h.arena)
	h.arena = append(h.arena, b...)
	h.Header.Set(name, unsafe.String(&h.arena[start], len(b)))
}

// TestForwardedRoundTrip checks that what SetForwarded writes for a
// trusted hop is what ClientIP reads back at the next hop.
func TestForwardedRoundTrip(t *testing.T) {
	t.Parallel()
	trusted := mustTrusted(t, "10.0.0.0/8")
	client := netip.MustParseAddr("2001:db8::77")
	// Hop 1: client → edge proxy 10.0.0.1 (trusts nobody upstream of it).
	h := hdr("X-Forwarded-For", "6.6.6.6")
	SetForwarded(h, h, client, false, "https", "api.example.com")
	// Hop 2: edge 10.0.0.1 → Gatehouse.
	if got := ClientIP(netip.MustParseAddr("10.0.0.1"), h, trusted); got != client {
		t.Fatalf("ClientIP = %v, want %v", got, client)
	}
	SetForwarded(h, h, netip.MustParseAddr("10.0.0.1"), true, "http", "gatehouse.internal")
	if got, want := h.Get("X-Forwarded-For"), "2001:db8::77, 10.0.0.1"; got != want {
		t.Errorf("X-Forwarded-For = %q, want %q", got, want)
	}
	if got := h.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want https (the client's)", got)
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1", "198.51.100.1, 10.0.0.2", "")
	f.Add("10.0.0.1", "[2001:db8::1]:80,,unknown", "1.2.3.4")
	f.Add("203.0.113.1", "1.2.3.4", "")
	f.Add("::ffff:10.0.0.1", "::ffff:1.2.3.4:5, fe80::1%eth0", "[")
	f.Add("10.0.0.1", "[]:1, [::1]x, 1.2.3.4:99999999", ":")
	trusted := mustTrusted(f, "10.0.0.0/8", "fd00::/8", "::1")
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string) {
		peer, err := netip.ParseAddr(remote)
		if err != nil {
			return
		}
		h := hdr("X-Forwarded-For", xff1, "X-Forwarded-For", xff2)
		got := ClientIP(peer, h, trusted)
		if got == peer.Unmap().WithZone("") {
			return
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("result %v not normalised", got)
		}
		// Otherwise the address must be written in the header.
		for _, v := range []string{xff1, xff2} {
			for _, el := range strings.Split(v, ",") {
				if fromElement(el) == got {
					return
				}
			}
		}
		t.Fatalf("ClientIP(%v, %q, %q) = %v: neither peer nor a header entry", peer, xff1, xff2, got)
	})
}

// fromElement is an independent oracle parse of one X-Forwarded-For element.
func fromElement(el string) netip.Addr {
	el = strings.Trim(el, " \t")
	if ap, err := netip.ParseAddrPort(el); err == nil {
		return ap.Addr().Unmap()
	}
	el = strings.TrimSuffix(strings.TrimPrefix(el, "["), "]")
	a, _ := netip.ParseAddr(el)
	return a.Unmap()
}

func BenchmarkClientIP(b *testing.B) {
	trusted := mustTrusted(b, "10.0.0.0/8", "172.16.0.0/12")
	h := hdr("X-Forwarded-For", "198.51.100.1, 10.0.0.2", "User-Agent", "bench")
	b.Run("untrusted peer", func(b *testing.B) {
		peer := netip.MustParseAddr("203.0.113.5")
		b.ReportAllocs()
		for b.Loop() {
			ClientIP(peer, h, trusted)
		}
	})
	b.Run("trusted peer", func(b *testing.B) {
		peer := netip.MustParseAddr("10.0.0.1")
		b.ReportAllocs()
		for b.Loop() {
			ClientIP(peer, h, trusted)
		}
	})
}

func BenchmarkSetForwarded(b *testing.B) {
	in := hdr("X-Forwarded-For", "198.51.100.1", "X-Forwarded-Proto", "https", "Accept", "*/*")
	peer := netip.MustParseAddr("10.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		out := http.Header{}
		SetForwarded(out, in, peer, true, "http", "api.example.com")
	}
}

func FuzzSetForwarded(f *testing.F) {
	f.Add("198.51.100.1", "for=1.2.3.4", "2001:db8::1", true, "https", "a.example:8443")
	f.Add("", "", "10.0.0.1", false, "ht\ntp", "a\r\nb")
	f.Add("x", `for="[::1]"`, "", true, "", `"\`)
	f.Add(" \f", "0", "0", true, "0", "0") // trusted list passed on trimmed
	f.Fuzz(func(t *testing.T, xff, fwd, peer string, trusted bool, proto, host string) {
		in := hdr("X-Forwarded-For", xff, "Forwarded", fwd)
		out := in.Clone()
		p, _ := netip.ParseAddr(peer)
		SetForwarded(out, in, p, trusted, proto, host)
		for _, name := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"} {
			for _, v := range out.Values(name) {
				if trusted && (name == "X-Forwarded-For" || name == "Forwarded") {
					// A trusted peer's list is passed on verbatim (trimmed).
					prior := map[string]string{"X-Forwarded-For": xff, "Forwarded": fwd}[name]
					v = strings.TrimPrefix(v, strings.Trim(prior, " \t"))
				}
				if !safeFieldValue(v) {
					t.Fatalf("%s = %q carries control characters", name, v)
				}
			}
		}
		if !trusted && out.Get("X-Forwarded-For") != "" {
			if got := out.Get("X-Forwarded-For"); got != p.Unmap().WithZone("").String() {
				t.Fatalf("untrusted X-Forwarded-For = %q, want peer %v", got, p)
			}
		}
		if f := out.Get("Forwarded"); !strings.HasPrefix(f, "for=") && !trusted {
			t.Fatalf("untrusted Forwarded = %q", f)
		}
	})
}
