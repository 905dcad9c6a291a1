package listen

import (
	"bufio"
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// FuzzProxyProtoV1: the v1 parser never panics; what it accepts re-encodes
// to a line it parses to the same header; and readProxyHeader over a stream
// agrees with it and leaves exactly the bytes after the line unread.
func FuzzProxyProtoV1(f *testing.F) {
	for _, s := range []string{
		"PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\r\n",
		"PROXY TCP6 2001:db8::1 ::1 1 65535\r\nGET / HTTP/1.1\r\n\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN ffff:f::f ffff:f::f 65535 65535\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
		"PROXY \r\n",
		"GET / HTTP/1.1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		line := in
		if i := bytes.Index(in, []byte("\r\n")); i >= 0 {
			line = in[:i+2]
		}
		h, err := parseProxyV1(line)
		if err == nil {
			if h.Version != 1 || (!h.Local && (!h.Source.IsValid() || !h.Destination.IsValid())) {
				t.Fatalf("accepted %q as %+v", line, h)
			}
			again, err := parseProxyV1(encodeProxyV1(h))
			if err != nil || again != h {
				t.Fatalf("round trip of %q: %+v -> %q -> %+v, %v", line, h, encodeProxyV1(h), again, err)
			}
		}
		checkStream(t, in)
	})
}

// FuzzProxyProtoV2: the v2 parser never panics, never claims a length it
// was not given, and round-trips what it accepts; an encoded header built
// from fuzzed addresses parses back to itself.
func FuzzProxyProtoV2(f *testing.F) {
	v4 := ProxyHeader{Source: ap("192.0.2.1:56324"), Destination: ap("192.0.2.11:443")}
	v6 := ProxyHeader{Source: ap("[2001:db8::1]:1"), Destination: ap("[2001:db8::2]:2")}
	f.Add(encodeProxyV2(v4, nil), []byte{})
	f.Add(encodeProxyV2(v6, []byte{4, 0, 1, 0}), []byte{1, 2, 3, 4})
	f.Add(encodeProxyV2(ProxyHeader{Local: true}, nil), bytes.Repeat([]byte{0xff}, 36))
	f.Add(append(bytes.Clone(proxyV2Sig), 0x21, 0x31, 0x00, 0xd8), []byte("x"))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x04abcd"), []byte{})
	f.Fuzz(func(t *testing.T, in, addrs []byte) {
		h, total, err := parseProxyV2(in)
		if err == nil {
			if h.Version != 2 || total < proxyV2Fixed {
				t.Fatalf("accepted %x as %+v total %d", in, h, total)
			}
			if !h.Local {
				again, _, err := parseProxyV2(encodeProxyV2(h, nil))
				if err != nil || again != h {
					t.Fatalf("round trip of %+v: %+v, %v", h, again, err)
				}
			}
		} else if !errors.Is(err, ErrProxyHeader) && !errors.Is(err, errProxyNeedMore) {
			t.Fatalf("unexpected error %v", err)
		}
		// Encoder oracle: addresses from the fuzzer.
		if len(addrs) >= 36 {
			src := netip.AddrPortFrom(netip.AddrFrom16([16]byte(addrs[:16])), uint16(addrs[32])<<8|uint16(addrs[33]))
			dst := netip.AddrPortFrom(netip.AddrFrom16([16]byte(addrs[16:32])), uint16(addrs[34])<<8|uint16(addrs[35]))
			{
				want := ProxyHeader{Version: 2, Source: src, Destination: dst}
				tlvs := addrs[36:]
				enc := encodeProxyV2(want, tlvs)
				got, n, err := parseProxyV2(enc)
				if err != nil || got != want || n != len(enc) {
					t.Fatalf("encode/parse %+v: %+v %d %v", want, got, n, err)
				}
				want.Version = 1
				got1, err := parseProxyV1(encodeProxyV1(want))
				if err != nil || got1 != want {
					t.Fatalf("v1 encode/parse %+v: %+v %v", want, got1, err)
				}
			}
		}
		checkStream(t, in)
	})
}

// checkStream reads in through readProxyHeader as a connection would: it must
// not panic, and after a header it must leave the rest of the stream intact.
func checkStream(t *testing.T, in []byte) {
	t.Helper()
	br := bufio.NewReaderSize(bytes.NewReader(in), proxyBufSize)
	h, ok, err := readProxyHeader(br)
	if err != nil || !ok {
		return
	}
	rest := make([]byte, len(in)+1)
	n, _ := fullRead(br, rest)
	consumed := len(in) - n
	if consumed <= 0 || !bytes.Equal(rest[:n], in[consumed:]) {
		t.Fatalf("header %+v: rest of stream altered", h)
	}
}

func fullRead(br *bufio.Reader, p []byte) (int, error) {
	total := 0
	for total < len(p) {
		n, err := br.Read(p[total:])
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
