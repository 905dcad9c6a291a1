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

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

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

// server.write_timeout: a client that stops reading a large response is
// cut off, and the exchange upstream ends with it (the backend's write
// fails), on both engines; nothing waits forever for a reader that left
// the connection open.
func TestWriteTimeoutCutsStalledReader(t *testing.T) {
	be, ended := bigBackend(t, 32)
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
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the backend wrote all 32 MiB to a client that read nothing")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the exchange with a stalled client was still running after 15s (write_timeout 500ms)")
	}
}

// The same over HTTP/2: a client that stops reading its TLS connection
// (the TCP window closes while the proxy has bytes to send) is cut after
// write_timeout, and the exchange upstream ends with it. The client is
// raw frames, so that nothing reads on its behalf.
func TestWriteTimeoutCutsStalledH2Reader(t *testing.T) {
	be, ended := bigBackend(t, 64)
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
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN %q, want h2", p)
	}
	// Preface, the largest windows (so that only TCP holds the proxy
	// back), and one GET; then read nothing.
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	const maxWindow = 1<<31 - 1
	var hdr bytes.Buffer
	enc := hpack.NewEncoder(&hdr)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/big"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for _, err := range []error{
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: maxWindow}),
		fr.WriteWindowUpdate(0, maxWindow-65535),
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hdr.Bytes(), EndStream: true, EndHeaders: true}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the backend wrote all 64 MiB to an HTTP/2 client that read nothing")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the exchange with a stalled HTTP/2 client was still running after 15s (write_timeout 500ms)")
	}
}
