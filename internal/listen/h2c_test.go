package listen

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// protoHandler answers with the protocol and what it saw of Upgrade.
var protoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, r.Proto+" upgrade="+r.Header.Get("Upgrade")+" settings="+r.Header.Get("Http2-Settings"))
})

func h2cListener(on bool) func(*config.Listener) {
	return func(lc *config.Listener) { lc.H2C = on }
}

// priorKnowledgeGet sends a GET over cleartext HTTP/2 with prior
// knowledge.
func priorKnowledgeGet(addr net.Addr) (string, error) {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, a)
		},
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr.String() + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// upgradeRequest is an RFC 7540 §3.2 upgrade (HTTP2-Settings: an empty
// SETTINGS payload is "", so one setting is sent: ENABLE_PUSH=0).
const upgradeRequest = "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAIAAAAA\r\n\r\n"

// rawUpgrade sends req and reads the response head; for a 101 it goes on
// as an HTTP/2 client and returns stream 1's body.
func rawUpgrade(t *testing.T, addr net.Addr, req string) (status int, body string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The server's SETTINGS may already sit in br.
	hc := newH2Conn(t, &bufferedConn{Conn: c, r: br})
	var sb strings.Builder
	for {
		f, err := hc.fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading h2 frames after upgrade: %v (body so far %q)", err, sb.String())
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = hc.fr.WriteSettingsAck()
			}
		case *http2.DataFrame:
			if f.StreamID == 1 {
				sb.Write(f.Data())
				if f.StreamEnded() {
					return 101, sb.String()
				}
			}
		case *http2.HeadersFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				return 101, sb.String()
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v after upgrade", f.ErrCode)
		}
	}
}

func TestH2C(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		on   bool
		run  func(t *testing.T, addr net.Addr)
	}{
		{"prior knowledge served when on", true, func(t *testing.T, addr net.Addr) {
			body, err := priorKnowledgeGet(addr)
			if err != nil || !strings.HasPrefix(body, "HTTP/2.0 ") {
				t.Fatalf("got %q, %v; want an HTTP/2.0 request", body, err)
			}
		}},
		{"prior knowledge refused when off", false, func(t *testing.T, addr net.Addr) {
			if body, err := priorKnowledgeGet(addr); err == nil {
				t.Fatalf("served %q over h2c on a listener without h2c", body)
			}
			status, _ := rawUpgrade(t, addr, http2.ClientPreface)
			if status != http.StatusBadRequest {
				t.Fatalf("preface answered %d, want 400", status)
			}
		}},
		{"upgrade served when on", true, func(t *testing.T, addr net.Addr) {
			status, body := rawUpgrade(t, addr, upgradeRequest)
			if status != 101 || body != "HTTP/2.0 upgrade= settings=" {
				t.Fatalf("got %d %q, want 101 then stream 1 as HTTP/2 without the upgrade fields", status, body)
			}
		}},
		{"upgrade ignored when off", false, func(t *testing.T, addr net.Addr) {
			status, body := rawUpgrade(t, addr, upgradeRequest)
			if status != 200 || body != "HTTP/1.1 upgrade= settings=" {
				t.Fatalf("got %d %q, want 200 over HTTP/1.1 with h2c removed", status, body)
			}
		}},
		{"other upgrade tokens kept", false, func(t *testing.T, addr net.Addr) {
			req := strings.Replace(upgradeRequest, "Upgrade: h2c", "Upgrade: h2c, websocket", 1)
			status, body := rawUpgrade(t, addr, req)
			if status != 200 || body != "HTTP/1.1 upgrade=websocket settings=" {
				t.Fatalf("got %d %q", status, body)
			}
		}},
		{"upgrade with a body served over HTTP/1.1", true, func(t *testing.T, addr net.Addr) {
			req := strings.Replace(upgradeRequest, "GET / HTTP/1.1\r\n", "POST / HTTP/1.1\r\nContent-Length: 2\r\n", 1) + "hi"
			status, body := rawUpgrade(t, addr, req)
			if status != 200 || body != "HTTP/1.1 upgrade= settings=" {
				t.Fatalf("got %d %q", status, body)
			}
		}},
		{"upgrade without HTTP2-Settings not done", true, func(t *testing.T, addr net.Addr) {
			req := strings.Replace(upgradeRequest, "HTTP2-Settings: AAIAAAAA\r\n", "", 1)
			status, body := rawUpgrade(t, addr, req)
			if status != 200 || body != "HTTP/1.1 upgrade= settings=" {
				t.Fatalf("got %d %q", status, body)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, _ := startVersions(t, protoHandler, h2cListener(tc.on))
			tc.run(t, addr)
		})
	}
}

// An upgraded connection is drained by Shutdown (GOAWAY, then closed) and
// does not keep it waiting past its deadline.
func TestH2CUpgradedShutdown(t *testing.T) {
	addr, m := startVersions(t, protoHandler, h2cListener(true))
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, upgradeRequest)
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	hc := newH2Conn(t, &bufferedConn{Conn: c, r: br})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// The connection got GOAWAY and was closed.
	for {
		f, err := hc.fr.ReadFrame()
		if err != nil {
			return
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			_ = hc.fr.WriteSettingsAck()
		}
	}
}
