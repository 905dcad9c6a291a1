package listen

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// encodeProxyV1 writes h as a v1 line (the test-side encoder).
func encodeProxyV1(h ProxyHeader) []byte {
	if h.Local {
		return []byte("PROXY UNKNOWN\r\n")
	}
	fam := "TCP4"
	if h.Source.Addr().Is6() {
		fam = "TCP6"
	}
	return []byte("PROXY " + fam + " " + h.Source.Addr().String() + " " + h.Destination.Addr().String() + " " +
		strconv.Itoa(int(h.Source.Port())) + " " + strconv.Itoa(int(h.Destination.Port())) + "\r\n")
}

// encodeProxyV2 writes h as a v2 header followed by tlvs (raw TLV bytes).
func encodeProxyV2(h ProxyHeader, tlvs []byte) []byte {
	b := append([]byte{}, proxyV2Sig...)
	if h.Local {
		b = append(b, 0x20, 0x00)
		b = binary.BigEndian.AppendUint16(b, uint16(len(tlvs)))
		return append(b, tlvs...)
	}
	var addrs []byte
	fam := byte(0x11)
	if h.Source.Addr().Is4() {
		s, d := h.Source.Addr().As4(), h.Destination.Addr().As4()
		addrs = append(append(addrs, s[:]...), d[:]...)
	} else {
		fam = 0x21
		s, d := h.Source.Addr().As16(), h.Destination.Addr().As16()
		addrs = append(append(addrs, s[:]...), d[:]...)
	}
	addrs = binary.BigEndian.AppendUint16(addrs, h.Source.Port())
	addrs = binary.BigEndian.AppendUint16(addrs, h.Destination.Port())
	b = append(b, 0x21, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(addrs)+len(tlvs)))
	return append(append(b, addrs...), tlvs...)
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParseProxyV1(t *testing.T) {
	t.Parallel()
	cases := []struct {
		line string
		want ProxyHeader
		err  bool
	}{
		{"PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\r\n", ProxyHeader{Version: 1, Source: ap("192.0.2.1:56324"), Destination: ap("192.0.2.11:443")}, false},
		{"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", ProxyHeader{Version: 1, Source: ap("[2001:db8::1]:1"), Destination: ap("[2001:db8::2]:65535")}, false},
		{"PROXY TCP6 ::ffff:192.0.2.1 ::1 0 80\r\n", ProxyHeader{Version: 1, Source: ap("[::ffff:192.0.2.1]:0"), Destination: ap("[::1]:80")}, false},
		{"PROXY UNKNOWN\r\n", ProxyHeader{Version: 1, Local: true}, false},
		{"PROXY UNKNOWN ffff:f::f ffff:f::f 65535 65535\r\n", ProxyHeader{Version: 1, Local: true}, false},
		{"PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\n", ProxyHeader{}, true},                   // bare LF
		{"PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\r\r\n", ProxyHeader{}, true},               // stray CR
		{"PROXY TCP4 192.0.2.1  192.0.2.11 56324 443\r\n", ProxyHeader{}, true},                // two spaces
		{"PROXY TCP4 192.0.2.1 192.0.2.11 056324 443\r\n", ProxyHeader{}, true},                // leading zero port
		{"PROXY TCP4 192.0.2.01 192.0.2.11 56324 443\r\n", ProxyHeader{}, true},                // leading zero octet
		{"PROXY TCP4 192.0.2.1 192.0.2.11 65536 443\r\n", ProxyHeader{}, true},                 // port range
		{"PROXY TCP4 2001:db8::1 192.0.2.11 1 443\r\n", ProxyHeader{}, true},                   // family mismatch
		{"PROXY TCP6 192.0.2.1 2001:db8::1 1 443\r\n", ProxyHeader{}, true},                    // family mismatch
		{"PROXY TCP6 fe80::1%eth0 2001:db8::1 1 443\r\n", ProxyHeader{}, true},                 // zone
		{"PROXY UDP4 192.0.2.1 192.0.2.11 56324 443\r\n", ProxyHeader{}, true},                 // protocol
		{"PROXY TCP4 192.0.2.1 192.0.2.11 56324\r\n", ProxyHeader{}, true},                     // field missing
		{"PROXY TCP4 192.0.2.1 192.0.2.11 56324 443 x\r\n", ProxyHeader{}, true},               // field extra
		{"PROXY TCP4 192.0.2.1 192.0.2.11 +1 443\r\n", ProxyHeader{}, true},                    // sign
		{"PROXY  TCP4 192.0.2.1 192.0.2.11 1 443\r\n", ProxyHeader{}, true},                    // two spaces
		{"GET / HTTP/1.1\r\n", ProxyHeader{}, true},                                            // not PROXY
		{"PROXY TCP6 " + string(bytes.Repeat([]byte("f"), 100)) + "\r\n", ProxyHeader{}, true}, // too long
	}
	for _, tc := range cases {
		t.Run(strconv.Quote(tc.line), func(t *testing.T) {
			t.Parallel()
			got, err := parseProxyV1([]byte(tc.line))
			if tc.err {
				if !errors.Is(err, ErrProxyHeader) {
					t.Fatalf("err = %v, want ErrProxyHeader", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseProxyV2(t *testing.T) {
	t.Parallel()
	v4 := ProxyHeader{Version: 2, Source: ap("192.0.2.1:56324"), Destination: ap("192.0.2.11:443")}
	v6 := ProxyHeader{Version: 2, Source: ap("[2001:db8::1]:1"), Destination: ap("[2001:db8::2]:2")}
	tlv := []byte{0x04, 0x00, 0x03, 'a', 'b', 'c'} // PP2_TYPE_NOOP with 3 bytes
	withFam := func(b []byte, famProto byte) []byte {
		b = bytes.Clone(b)
		b[13] = famProto
		return b
	}
	withVerCmd := func(b []byte, vc byte) []byte {
		b = bytes.Clone(b)
		b[12] = vc
		return b
	}
	cases := []struct {
		name  string
		in    []byte
		want  ProxyHeader
		total int
		err   error
	}{
		{"inet", encodeProxyV2(v4, nil), v4, 28, nil},
		{"inet with TLV", encodeProxyV2(v4, tlv), v4, 34, nil},
		{"inet6", encodeProxyV2(v6, nil), v6, 52, nil},
		{"local", encodeProxyV2(ProxyHeader{Local: true}, tlv), ProxyHeader{Version: 2, Local: true}, 22, nil},
		{"local ignores family", withFam(encodeProxyV2(ProxyHeader{Local: true}, nil), 0x11), ProxyHeader{Version: 2, Local: true}, 16, nil},
		{"unspec family", withFam(encodeProxyV2(v4, nil), 0x01), ProxyHeader{Version: 2, Local: true}, 28, nil},
		{"unspec transport", withFam(encodeProxyV2(v4, nil), 0x10), ProxyHeader{Version: 2, Local: true}, 28, nil},
		{"udp over inet", withFam(encodeProxyV2(v4, nil), 0x12), v4, 28, nil},
		{"bad version", withVerCmd(encodeProxyV2(v4, nil), 0x11), ProxyHeader{}, 0, ErrProxyHeader},
		{"bad command", withVerCmd(encodeProxyV2(v4, nil), 0x22), ProxyHeader{}, 0, ErrProxyHeader},
		{"bad family", withFam(encodeProxyV2(v4, nil), 0x41), ProxyHeader{}, 0, ErrProxyHeader},
		{"bad transport", withFam(encodeProxyV2(v4, nil), 0x13), ProxyHeader{}, 0, ErrProxyHeader},
		{"inet6 family, inet length", withFam(encodeProxyV2(v4, nil), 0x21), ProxyHeader{}, 0, ErrProxyHeader},
		{"short", encodeProxyV2(v4, nil)[:20], ProxyHeader{}, 0, errProxyNeedMore},
		{"prefix", proxyV2Sig[:5], ProxyHeader{}, 0, errProxyNeedMore},
		{"not a signature", []byte("GET / HTTP/1.1\r\n\r\n"), ProxyHeader{}, 0, ErrProxyHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, total, err := parseProxyV2(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want || total != tc.total {
				t.Fatalf("got %+v, %d, %v; want %+v, %d", got, total, err, tc.want, tc.total)
			}
		})
	}
}

// proxyTestListener serves ln through ProxyListener and sends each accepted
// connection, with what it read, to the returned channel.
type accepted struct {
	remote string
	data   string
	err    error
}

func serveProxy(t *testing.T, cfg config.ProxyProtocol, timeout time.Duration) (string, <-chan accepted) {
	t.Helper()
	raw := listenLocal(t)
	ln, err := ProxyListener(raw, cfg, timeout)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan accepted, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(limitTestTimeout))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err == nil {
					_, _ = c.Write([]byte("ok\n"))
				}
				out <- accepted{remote: c.RemoteAddr().String(), data: line, err: err}
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return raw.Addr().String(), out
}

// exchange dials addr, sends payload and reports whether the server answered.
func exchange(t *testing.T, addr string, payload []byte) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, limitTestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(limitTestTimeout))
	_, _ = c.Write(payload)
	line, _ := bufio.NewReader(c).ReadString('\n')
	return line == "ok\n"
}

func TestProxyListener(t *testing.T) {
	t.Parallel()
	trusted := config.ProxyProtocol{TrustedFrom: []string{"127.0.0.0/8"}}
	untrusted := config.ProxyProtocol{TrustedFrom: []string{"10.0.0.0/8", "192.0.2.1"}}
	required := config.ProxyProtocol{TrustedFrom: []string{"127.0.0.1"}, Required: true}
	src := ProxyHeader{Source: ap("198.51.100.7:40000"), Destination: ap("192.0.2.11:443")}
	src6 := ProxyHeader{Source: ap("[2001:db8::7]:40000"), Destination: ap("[2001:db8::1]:443")}
	tlv := []byte{0x01, 0x00, 0x02, 'h', '2'} // PP2_TYPE_ALPN
	cases := []struct {
		name       string
		cfg        config.ProxyProtocol
		payload    []byte
		ok         bool
		remote     string // "" : the real loopback address
		wantErr    error
		wantServed bool // the server side saw the connection
	}{
		{"v1 trusted", trusted, append(encodeProxyV1(src), "hello\n"...), true, "198.51.100.7:40000", nil, true},
		{"v1 trusted ipv6", trusted, append(encodeProxyV1(src6), "hello\n"...), true, "[2001:db8::7]:40000", nil, true},
		{"v2 trusted with TLV", trusted, append(encodeProxyV2(src, tlv), "hello\n"...), true, "198.51.100.7:40000", nil, true},
		{"v2 local keeps real address", trusted, append(encodeProxyV2(ProxyHeader{Local: true}, nil), "hello\n"...), true, "", nil, true},
		{"v1 unknown keeps real address", trusted, []byte("PROXY UNKNOWN\r\nhello\n"), true, "", nil, true},
		{"trusted without header", trusted, []byte("hello\n"), true, "", nil, true},
		{"trusted malformed", trusted, []byte("PROXY TCP4 1.2.3.4\r\nhello\n"), false, "", nil, false},
		{"required without header", required, []byte("hello\n"), false, "", nil, false},
		{"required with header", required, append(encodeProxyV2(src, nil), "hello\n"...), true, "198.51.100.7:40000", nil, true},
		{"untrusted v1", untrusted, append(encodeProxyV1(src), "hello\n"...), false, "", ErrProxyUntrusted, true},
		{"untrusted v2", untrusted, append(encodeProxyV2(src, nil), "hello\n"...), false, "", ErrProxyUntrusted, true},
		{"untrusted plain", untrusted, []byte("hello\n"), true, "", nil, true},
		{"untrusted short", untrusted, []byte("PROhello\n"), true, "", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, acc := serveProxy(t, tc.cfg, time.Second)
			if got := exchange(t, addr, tc.payload); got != tc.ok {
				t.Fatalf("answered = %v, want %v", got, tc.ok)
			}
			if !tc.wantServed {
				return
			}
			a := <-acc
			if !errors.Is(a.err, tc.wantErr) {
				t.Fatalf("server read error = %v, want %v", a.err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			host, _, _ := net.SplitHostPort(a.remote)
			if tc.remote == "" && host != "127.0.0.1" {
				t.Fatalf("RemoteAddr = %s, want the real loopback address", a.remote)
			}
			if tc.remote != "" && a.remote != tc.remote {
				t.Fatalf("RemoteAddr = %s, want %s", a.remote, tc.remote)
			}
			want := "hello\n"
			if !bytes.Contains(tc.payload, []byte("PROXY")) && !bytes.Contains(tc.payload, proxyV2Sig) {
				want = string(tc.payload) // no header: every byte is data
			}
			if a.data != want {
				t.Fatalf("server read %q, want %q (header bytes must not leak)", a.data, want)
			}
		})
	}
}

// A trusted peer that sends nothing is closed after the header timeout and
// does not hold up the connections behind it.
func TestProxyListenerSilentPeer(t *testing.T) {
	t.Parallel()
	addr, _ := serveProxy(t, config.ProxyProtocol{TrustedFrom: []string{"127.0.0.1"}}, 300*time.Millisecond)
	silent, err := net.DialTimeout("tcp", addr, limitTestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	src := ProxyHeader{Source: ap("198.51.100.7:1"), Destination: ap("192.0.2.11:2")}
	if !exchange(t, addr, append(encodeProxyV1(src), "hello\n"...)) {
		t.Fatal("a connection behind a silent one was not served")
	}
	_ = silent.SetReadDeadline(time.Now().Add(limitTestTimeout))
	start := time.Now()
	if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("silent peer not closed")
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("silent peer closed after %v", d)
	}
}

// Per-IP limits behind the PROXY protocol count the header's address.
func TestPerIPBehindProxyProtocol(t *testing.T) {
	t.Parallel()
	raw := listenLocal(t)
	pl, err := ProxyListener(raw, config.ProxyProtocol{TrustedFrom: []string{"127.0.0.1"}}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := PerIPListener(pl, 1)
	if err != nil {
		t.Fatal(err)
	}
	serveAccepts(t, ln)
	from := func(ip string) []byte {
		return encodeProxyV2(ProxyHeader{Source: netip.AddrPortFrom(netip.MustParseAddr(ip), 1), Destination: ap("192.0.2.11:2")}, nil)
	}
	for _, st := range []struct {
		client string
		want   bool
	}{{"198.51.100.1", true}, {"198.51.100.1", false}, {"198.51.100.2", true}} {
		c, err := net.DialTimeout("tcp", raw.Addr().String(), limitTestTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(limitTestTimeout))
		_, _ = c.Write(from(st.client))
		line, _ := bufio.NewReader(c).ReadString('\n')
		if got := line == "ok\n"; got != st.want {
			t.Fatalf("client %s: accepted=%v, want %v", st.client, got, st.want)
		}
	}
}

func TestProxyListenerConfig(t *testing.T) {
	t.Parallel()
	raw := listenLocal(t)
	defer raw.Close()
	if _, err := ProxyListener(raw, config.ProxyProtocol{TrustedFrom: []string{"10.0.0.0/33"}}, 0); err == nil {
		t.Fatal("invalid CIDR accepted")
	}
	if _, err := ProxyListener(raw, config.ProxyProtocol{}, -time.Second); err == nil {
		t.Fatal("negative timeout accepted")
	}
}
