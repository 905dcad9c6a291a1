package listen

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// startVersions runs a Manager with one listener (edited by edit) serving
// h and returns its address.
func startVersions(t *testing.T, h http.Handler, edit func(*config.Listener)) (net.Addr, *Manager) {
	t.Helper()
	cfg := &config.Config{Routes: []config.Route{{Respond: &config.Respond{Body: "ok"}}}}
	lc := config.Listener{Name: "v", Address: "127.0.0.1:0"}
	edit(&lc)
	cfg.Listeners = []config.Listener{lc}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	m := NewManager(h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	for _, a := range m.Addrs() {
		return a, m
	}
	t.Fatal("no listener")
	return nil, nil
}

// tlsListener is an edit for startVersions: TLS with a fresh certificate.
func tlsListener(t *testing.T) (func(*config.Listener), *x509.CertPool) {
	certFile, keyFile, pool := certs.SelfSigned(t)
	return func(lc *config.Listener) {
		lc.TLS = &config.ListenerTLS{Cert: certFile, Key: keyFile}
	}, pool
}

// h2Conn is a raw HTTP/2 client connection driven frame by frame.
type h2Conn struct {
	net.Conn
	fr   *http2.Framer
	henc *hpack.Encoder
	hbuf bytes.Buffer
}

// dialH2 opens an HTTP/2 connection over TLS (ALPN h2) and sends the
// preface and an empty SETTINGS frame.
func dialH2(t *testing.T, addr net.Addr, pool *x509.CertPool) *h2Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr.String(), &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN negotiated %q, want h2", p)
	}
	return newH2Conn(t, c)
}

func newH2Conn(t *testing.T, c net.Conn) *h2Conn {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	hc := &h2Conn{Conn: c, fr: http2.NewFramer(c, c)}
	hc.henc = hpack.NewEncoder(&hc.hbuf)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := hc.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return hc
}

// headerBlock encodes a GET of path plus extra fields.
func (hc *h2Conn) headerBlock(path string, extra ...hpack.HeaderField) []byte {
	hc.hbuf.Reset()
	for _, f := range append([]hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "127.0.0.1"}, {Name: ":path", Value: path},
	}, extra...) {
		_ = hc.henc.WriteField(f)
	}
	return bytes.Clone(hc.hbuf.Bytes())
}

// readUntilGoAway reads frames until a GOAWAY (returned) or an error
// (connection closed: returns nil). It ACKs nothing; the deadline bounds it.
func readUntilGoAway(fr *http2.Framer) *http2.GoAwayFrame {
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return nil
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			return ga
		}
	}
}

// slowHandler blocks /slow requests until release is closed, ignoring
// cancellation, as a handler waiting on a slow backend does; "/" answers
// at once.
func slowHandler(started *atomic.Int64, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started.Add(1)
			select {
			case <-release:
			case <-time.After(20 * time.Second):
			}
			return
		}
		_, _ = io.WriteString(w, "ok "+r.Proto)
	})
}

// normalH2Get is a second, well-behaved client's request.
func normalH2Get(t *testing.T, addr net.Addr, pool *x509.CertPool) {
	t.Helper()
	tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get("https://" + addr.String() + "/")
	if err != nil {
		t.Fatalf("normal client: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "ok HTTP/2.0" {
		t.Fatalf("normal client: %d %q", resp.StatusCode, b)
	}
}

// The server advertises the limits of h2.go.
func TestH2Settings(t *testing.T) {
	edit, pool := tlsListener(t)
	addr, _ := startVersions(t, slowHandler(new(atomic.Int64), nil), edit)
	hc := dialH2(t, addr, pool)
	f, err := hc.fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok {
		t.Fatalf("first frame %v, want SETTINGS", f)
	}
	for _, tc := range []struct {
		name string
		id   http2.SettingID
		want uint32
	}{
		{"max concurrent streams", http2.SettingMaxConcurrentStreams, h2MaxConcurrentStreams},
		{"max frame size", http2.SettingMaxFrameSize, h2MaxReadFrameSize},
		{"initial window", http2.SettingInitialWindowSize, h2MaxUploadBufferPerStream},
		{"header table", http2.SettingHeaderTableSize, h2MaxDecoderHeaderTableSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := sf.Value(tc.id)
			if !ok && tc.id == http2.SettingHeaderTableSize && tc.want == 4096 {
				return // the protocol default need not be sent
			}
			if got != tc.want {
				t.Errorf("%v = %d (sent %v), want %d", tc.id, got, ok, tc.want)
			}
		})
	}
	t.Run("max header list size", func(t *testing.T) {
		got, ok := sf.Value(http2.SettingMaxHeaderListSize)
		// server.max_header_bytes (64KB) plus net/http's allowance.
		if !ok || got < 64<<10 || got > 80<<10 {
			t.Errorf("MAX_HEADER_LIST_SIZE = %d (sent %v), want about 64 KiB", got, ok)
		}
	})
}

// Rapid reset (CVE-2023-44487): a client opening streams and resetting
// them at once, faster than the handlers finish, gets GOAWAY
// ENHANCE_YOUR_CALM after a bounded number of handlers, and another
// client is served meanwhile.
func TestH2RapidResetFlood(t *testing.T) {
	edit, pool := tlsListener(t)
	var started atomic.Int64
	release := make(chan struct{})
	defer close(release)
	addr, _ := startVersions(t, slowHandler(&started, release), edit)
	hc := dialH2(t, addr, pool)

	gotGoAway := make(chan *http2.GoAwayFrame, 1)
	go func() { gotGoAway <- readUntilGoAway(hc.fr) }()
	const maxStreams = 20000
	var sent int
	var ga *http2.GoAwayFrame
	done := false
	for id := uint32(1); sent < maxStreams && !done; id += 2 {
		block := hc.headerBlock("/slow")
		if err := hc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
			break // the server closed the connection
		}
		if err := hc.fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			break
		}
		sent++
		select {
		case ga = <-gotGoAway:
			done = true
		default:
		}
	}
	if !done {
		select {
		case ga = <-gotGoAway:
		case <-time.After(10 * time.Second):
			t.Fatalf("no GOAWAY or close after %d reset streams", sent)
		}
	}
	if ga == nil {
		t.Fatalf("connection closed without GOAWAY after %d streams", sent)
	}
	if ga.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", ga.ErrCode)
	}
	if n := started.Load(); n > h2MaxConcurrentStreams {
		t.Errorf("%d handlers ran for one connection, want at most %d", n, h2MaxConcurrentStreams)
	}
	t.Logf("GOAWAY after %d streams, %d handlers started", sent, started.Load())
	normalH2Get(t, addr, pool)
}

// CONTINUATION flood (CVE-2024-27316): a header block that never ends
// (no END_HEADERS) is cut off once it exceeds the header list limit, long
// before the client stops sending; another client is served meanwhile.
func TestH2ContinuationFlood(t *testing.T) {
	edit, pool := tlsListener(t)
	addr, _ := startVersions(t, slowHandler(new(atomic.Int64), nil), edit)
	hc := dialH2(t, addr, pool)
	closed := make(chan *http2.GoAwayFrame, 1)
	go func() { closed <- readUntilGoAway(hc.fr) }()

	big := hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("a", 4000), Sensitive: true} // never indexed: every fragment is real bytes
	if err := hc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hc.headerBlock("/", big), EndStream: true}); err != nil {
		t.Fatal(err)
	}
	const limit = 10 << 20 // what an unbounded server would accept
	written := 0
	cut := false
	for written < limit && !cut {
		hc.hbuf.Reset()
		for range 3 {
			_ = hc.henc.WriteField(big)
		}
		frag := hc.hbuf.Bytes()
		if err := hc.fr.WriteContinuation(1, false, frag); err != nil {
			cut = true
			break
		}
		written += len(frag)
		select {
		case <-closed:
			cut = true
		default:
		}
	}
	if !cut {
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("server still reading after %d bytes of one header block", written)
		}
	}
	// The header list limit is 64 KiB; the server stops at twice the
	// remaining budget. Kernel buffers hold what was written meanwhile.
	if written > 4<<20 {
		t.Errorf("server accepted %d bytes of one header block before closing", written)
	}
	t.Logf("cut off after %d bytes", written)
	normalH2Get(t, addr, pool)
}
