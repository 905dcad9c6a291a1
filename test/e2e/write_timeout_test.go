package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// stallMiB is more than the sockets between a backend and a client that
// stopped reading can hold: Linux autotunes a receive buffer up to
// net.ipv4.tcp_rmem's maximum (32 MiB here, on the client's socket and on
// the proxy's from the backend), plus the send buffers and the proxy's
// splice pipe. 32 MiB once went through whole before write_timeout.
const stallMiB = 128

// bigBackend serves mib MiB (far more than socket buffers hold) to every
// request and reports on ended how its writing ended (nil: all written).
func bigBackend(t *testing.T, mib int) (*httptest.Server, <-chan error) {
	chunk := []byte(strings.Repeat("s", 64<<10))
	ended := make(chan error, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(16*mib*len(chunk)))
		for range 16 * mib {
			if _, err := w.Write(chunk); err != nil {
				ended <- err
				return
			}
		}
		ended <- nil
	}))
	t.Cleanup(be.Close)
	return be, ended
}

// cutWithin fails unless the backend's writing for a client named who
// ends in an error (the proxy gave the exchange up) within d.
func cutWithin(t *testing.T, ended <-chan error, d time.Duration, who string) {
	t.Helper()
	select {
	case err := <-ended:
		if err == nil {
			t.Fatalf("the backend wrote its whole body for %s", who)
		}
	case <-time.After(d):
		t.Fatalf("the exchange for %s was still running after %s (write_timeout 500ms)", who, d)
	}
}

// h2Gateway starts Gatehouse on TLS with write_timeout 500ms in front of
// be, and returns a raw connection to it that negotiated h2 and sent the
// client preface; frames are the test's to write and read.
func h2Gateway(t *testing.T, be *httptest.Server) *tls.Conn {
	t.Helper()
	certFile, keyFile, pool := certs.SelfSigned(t)
	gw := start(t, fmt.Sprintf(`
listeners:
  - address: "127.0.0.1:0"
    tls: { cert: %q, key: %q }
server: { write_timeout: 500ms }
routes:
  - upstream: be
upstreams:
  be: { targets: [ %q ] }
`, certFile, keyFile, strings.TrimPrefix(be.URL, "http://")))
	conn, err := tls.Dial("tcp", gw.Addr, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN %q, want h2", p)
	}
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	return conn
}

// getBig is the header block of a GET /big.
func getBig() []byte {
	var hdr bytes.Buffer
	enc := hpack.NewEncoder(&hdr)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/big"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return hdr.Bytes()
}

// server.write_timeout: a client that stops reading a large response is
// cut off, and the exchange upstream ends with it (the backend's write
// fails), on both engines; nothing waits forever for a reader that left
// the connection open.
func TestWriteTimeoutCutsStalledReader(t *testing.T) {
	be, ended := bigBackend(t, stallMiB)
	gw := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
server: { write_timeout: 500ms }
routes:
  - upstream: be
upstreams:
  be: { targets: [ %q ] }
`, strings.TrimPrefix(be.URL, "http://")))
	res, err := newClient(t).Get(gw.URL("/big"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// Read nothing more: the proxy must give up on this client.
	cutWithin(t, ended, 15*time.Second, "a client that read nothing")
}

// The same over HTTP/2: a client that stops reading its TLS connection
// (the TCP window closes while the proxy has bytes to send) is cut after
// write_timeout, and the exchange upstream ends with it. The client is
// raw frames, so that nothing reads on its behalf.
func TestWriteTimeoutCutsStalledH2Reader(t *testing.T) {
	be, ended := bigBackend(t, stallMiB)
	conn := h2Gateway(t, be)
	// The largest windows (so that only TCP holds the proxy back), and
	// one GET; then read nothing.
	fr := http2.NewFramer(conn, conn)
	const maxWindow = 1<<31 - 1
	for _, err := range []error{
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: maxWindow}),
		fr.WriteWindowUpdate(0, maxWindow-65535),
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: getBig(), EndStream: true, EndHeaders: true}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	cutWithin(t, ended, 15*time.Second, "an HTTP/2 client that read nothing")
}

// An HTTP/2 client that keeps its connection busy but stops granting one
// stream flow-control window (RFC 9113 §5.2) holds that stream's writes
// with the connection still healthy: the connection's bound never fires.
// The stream must be reset after write_timeout and its upstream exchange
// end, or every such stream pins a handler and a backend connection for
// as long as the client likes.
func TestWriteTimeoutResetsFlowControlStalledH2Stream(t *testing.T) {
	be, ended := bigBackend(t, 64)
	conn := h2Gateway(t, be)
	// One framer per direction: the reader runs while the test writes.
	wfr, rfr := http2.NewFramer(conn, nil), http2.NewFramer(nil, conn)
	get := func(stream uint32) error {
		return wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: getBig(), EndStream: true, EndHeaders: true})
	}
	// The stream's default window (64 KiB), never replenished; the
	// connection's opened wide, so only the stream's own flow control
	// holds the proxy back. Every frame is read, so TCP never does.
	for _, err := range []error{wfr.WriteSettings(), wfr.WriteWindowUpdate(0, 1<<30), get(1)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	type event struct {
		kind   string
		stream uint32
	}
	events := make(chan event, 64)
	go func() {
		defer close(events)
		for {
			f, err := rfr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				events <- event{"RST_STREAM", f.StreamID}
			case *http2.GoAwayFrame:
				events <- event{"GOAWAY", 0}
			case *http2.HeadersFrame:
				events <- event{"HEADERS", f.StreamID}
			}
		}
	}()
	// await waits for want, failing on a GOAWAY or a closed connection
	// first: the cut must take the stream, not the connection.
	await := func(want event, within time.Duration, what string) {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case ev, ok := <-events:
				if !ok || ev.kind == "GOAWAY" {
					t.Fatalf("the connection ended (%v) waiting for %s", ev, what)
				}
				if ev == want {
					return
				}
			case <-deadline:
				t.Fatalf("no %s within %s (write_timeout 500ms)", what, within)
			}
		}
	}
	await(event{"RST_STREAM", 1}, 15*time.Second, "reset of the stream stalled by flow control")
	cutWithin(t, ended, 15*time.Second, "the reset stream")
	// The connection carries on: a new stream gets its answer.
	if err := get(3); err != nil {
		t.Fatal(err)
	}
	await(event{"HEADERS", 3}, 10*time.Second, "response on a new stream of the same connection")
}

// The same on HTTP/3: QUIC gives each stream its own flow-control window
// (RFC 9000 §4.1); a client that stops reading one response while its
// connection stays alive must not pin the exchange upstream.
func TestWriteTimeoutCutsFlowControlStalledH3Stream(t *testing.T) {
	be, ended := bigBackend(t, 64)
	certFile, keyFile, pool := certs.SelfSigned(t)
	gw := start(t, fmt.Sprintf(`
listeners:
  - address: "127.0.0.1:0"
    tls: { cert: %q, key: %q, http3: true }
server: { write_timeout: 500ms }
routes:
  - upstream: be
upstreams:
  be: { targets: [ %q ] }
`, certFile, keyFile, strings.TrimPrefix(be.URL, "http://")))
	// A window that never grows unless the body is read, and keep-alives
	// so the connection itself stays healthy.
	h3 := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		QUICConfig: &quic.Config{
			InitialStreamReceiveWindow: 64 << 10,
			MaxStreamReceiveWindow:     64 << 10,
			KeepAlivePeriod:            200 * time.Millisecond,
		},
	}
	defer h3.Close()
	// No client timeout: giving up would end the stream from our side.
	req, err := http.NewRequestWithContext(t.Context(), "GET", "https://"+gw.Addr+"/big", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h3.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// Read nothing of the body.
	cutWithin(t, ended, 8*time.Second, "an HTTP/3 stream stalled by flow control")
}

// The other half of the rule: a stream with no write waiting (a model
// thinking, a pause between server-sent events) is never cut, however
// long the pause, on HTTP/2 and HTTP/3 alike.
func TestWriteTimeoutSparesQuietStreams(t *testing.T) {
	const gap = 300 * time.Millisecond
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		// The scenario itself, not synchronisation: silence for several
		// write timeouts.
		select {
		case <-time.After(4 * gap):
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "data: two\n\n")
	}))
	defer be.Close()
	certFile, keyFile, pool := certs.SelfSigned(t)
	gw := start(t, fmt.Sprintf(`
listeners:
  - address: "127.0.0.1:0"
    tls: { cert: %q, key: %q, http3: true }
server: { write_timeout: %s }
routes:
  - upstream: be
upstreams:
  be: { targets: [ %q ] }
`, certFile, keyFile, gap, strings.TrimPrefix(be.URL, "http://")))
	h2 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer h2.CloseIdleConnections()
	h3 := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer h3.Close()
	for _, tc := range []struct {
		proto string
		rt    http.RoundTripper
	}{{"HTTP/2.0", h2}, {"HTTP/3.0", h3}} {
		t.Run(tc.proto, func(t *testing.T) {
			res, err := (&http.Client{Transport: tc.rt, Timeout: clientTimeout}).Get("https://" + gw.Addr + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("%s stream cut after %q: %v", res.Proto, b, err)
			}
			if res.Proto != tc.proto || string(b) != "data: one\n\ndata: two\n\n" {
				t.Fatalf("%s %q, want %s with both events", res.Proto, b, tc.proto)
			}
		})
	}
}
