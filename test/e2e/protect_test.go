package e2e

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Connection-level protection through the real binary: listener limits,
// the PROXY protocol and the minimum data rate (docs/security.md).

// protectStart runs Gatehouse with one listener per protection, all in front
// of a recording backend.
func protectStart(t *testing.T) (*instance, *recorder) {
	t.Helper()
	be := newRecorder(t, "be")
	inst := start(t, fmt.Sprintf(`
server:
  read_header_timeout: 30s
  idle_timeout: 30s
  min_data_rate: { bytes_per_second: 1KB, window: 1s }
listeners:
  - { name: maxconns, address: "127.0.0.1:0", limits: { max_conns: 2 } }
  - { name: perip, address: "127.0.0.1:0", limits: { max_conns_per_ip: 1 } }
  - { name: pp, address: "127.0.0.1:0", proxy_protocol: { trusted_from: [ "127.0.0.1" ] } }
  - { name: ppuntrusted, address: "127.0.0.1:0", proxy_protocol: { trusted_from: [ "10.0.0.0/8" ] } }
routes:
  - match: { path: /* }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, be.Addr()))
	for _, name := range []string{"maxconns", "perip", "pp", "ppuntrusted"} {
		if inst.Addrs[name] == "" {
			t.Fatalf("no listening line for listener %q", name)
		}
	}
	return inst, be
}

// protectConn is one client connection on which requests are sent one by
// one (keep-alive).
type protectConn struct {
	c  net.Conn
	br *bufio.Reader
}

func protectDial(t *testing.T, addr, from string) *protectConn {
	t.Helper()
	d := net.Dialer{Timeout: clientTimeout}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(3 * clientTimeout))
	return &protectConn{c: c, br: bufio.NewReader(c)}
}

// do sends prefix (a PROXY header, or nothing) and a GET for path, and
// returns the response status, or 0 if the connection was closed instead.
func (p *protectConn) do(prefix []byte, path string) int {
	if _, err := p.c.Write(append(prefix, "GET "+path+" HTTP/1.1\r\nHost: protect.test\r\n\r\n"...)); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestProtectMaxConns(t *testing.T) {
	inst, _ := protectStart(t)
	addr := inst.Addrs["maxconns"]
	a, b := protectDial(t, addr, ""), protectDial(t, addr, "")
	if a.do(nil, "/a") != 200 || b.do(nil, "/b") != 200 {
		t.Fatal("the first two connections were not served")
	}
	if got := protectDial(t, addr, "").do(nil, "/c"); got != 0 {
		t.Fatalf("third connection got %d, want it closed (max_conns: 2)", got)
	}
	_ = a.c.Close()
	if !waitUntil(logTimeout, func() bool { return protectDial(t, addr, "").do(nil, "/d") == 200 }) {
		t.Fatal("no connection served after one of the two closed")
	}
}

func TestProtectMaxConnsPerIP(t *testing.T) {
	inst, _ := protectStart(t)
	addr := inst.Addrs["perip"]
	steps := []struct {
		from string
		want int
	}{{"127.0.0.2", 200}, {"127.0.0.2", 0}, {"127.0.0.3", 200}}
	for i, st := range steps {
		if got := protectDial(t, addr, st.from).do(nil, "/"); got != st.want {
			t.Fatalf("step %d from %s: got %d, want %d", i+1, st.from, got, st.want)
		}
	}
}

// proxyV2 builds a PROXY v2 header for a TCP/IPv4 client (the encoder lives
// here too so the test does not share code with the parser it checks).
func proxyV2(src string, sport uint16) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c")
	b = append(b, net.ParseIP(src).To4()...)
	b = append(b, 192, 0, 2, 11)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, 443)
}

func TestProtectProxyProtocol(t *testing.T) {
	inst, be := protectStart(t)
	cases := []struct {
		name, listener string
		header         []byte
		want           int
		xff            string // the client address the backend must see
	}{
		{"v1 from trusted", "pp", []byte("PROXY TCP4 198.51.100.7 192.0.2.11 40000 443\r\n"), 200, "198.51.100.7"},
		{"v2 from trusted", "pp", proxyV2("198.51.100.8", 40001), 200, "198.51.100.8"},
		{"trusted without header", "pp", nil, 200, "127.0.0.1"},
		{"v1 from untrusted", "ppuntrusted", []byte("PROXY TCP4 198.51.100.7 192.0.2.11 40000 443\r\n"), 0, ""},
		{"v2 from untrusted", "ppuntrusted", proxyV2("198.51.100.8", 40001), 0, ""},
		{"untrusted without header", "ppuntrusted", nil, 200, "127.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := be.Count()
			got := protectDial(t, inst.Addrs[tc.listener], "").do(tc.header, "/"+strings.ReplaceAll(tc.name, " ", "-"))
			if got != tc.want {
				t.Fatalf("status %d, want %d (0: closed)", got, tc.want)
			}
			if tc.want != 200 {
				if be.Count() != before {
					t.Fatal("a refused connection reached the backend")
				}
				return
			}
			if xff := be.Last(t).Header.Get("X-Forwarded-For"); xff != tc.xff {
				t.Fatalf("backend saw X-Forwarded-For %q, want %q", xff, tc.xff)
			}
		})
	}
}

func TestProtectMinDataRate(t *testing.T) {
	inst, _ := protectStart(t)
	addr := inst.Addrs["perip"] // any listener: the rate is server-wide

	t.Run("slowloris head is cut within the window", func(t *testing.T) {
		p := protectDial(t, addr, "127.0.0.4")
		go func() {
			if _, err := io.WriteString(p.c, "GET /slow HTTP/1.1\r\n"); err != nil {
				return
			}
			tk := time.NewTicker(200 * time.Millisecond) // 5 B/s against 1KB/s
			defer tk.Stop()
			for range 100 {
				<-tk.C
				if _, err := io.WriteString(p.c, "a"); err != nil {
					return
				}
			}
		}()
		start := time.Now()
		_, err := io.Copy(io.Discard, p.br)
		if d := time.Since(start); err != nil || d > 5*time.Second {
			t.Fatalf("slow head: closed after %v (%v), want ~1s (read_header_timeout is 30s)", d, err)
		}
	})

	t.Run("idle keep-alive is not cut", func(t *testing.T) {
		p := protectDial(t, addr, "127.0.0.5")
		if p.do(nil, "/first") != 200 {
			t.Fatal("first request failed")
		}
		<-time.After(2500 * time.Millisecond) // 2.5 windows of idle time
		if got := p.do(nil, "/second"); got != 200 {
			t.Fatalf("after idling: %d, want 200 on the same connection", got)
		}
	})
}
