package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2cGet sends a GET over cleartext HTTP/2 with prior knowledge.
func h2cGet(addr, path string) (*http.Response, string, error) {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, a)
		},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: clientTimeout}).Get("http://" + addr + path)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// h2cUpgradeReq asks to upgrade to h2c (RFC 7540 §3.2); the settings
// payload is ENABLE_PUSH=0.
const h2cUpgradeReq = "GET /be/x HTTP/1.1\r\nHost: h2c.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAIAAAAA\r\n\r\n"

// h2cUpgrade sends the upgrade request; on 101 it continues as an HTTP/2
// client and returns stream 1's status and body.
func h2cUpgrade(t *testing.T, addr string) (switched bool, status int, body string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(clientTimeout))
	if _, err := io.WriteString(c, h2cUpgradeReq); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		return false, resp.StatusCode, string(b)
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, br)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("after 101: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 && status == 0 {
				status, _ = strconv.Atoi(f.PseudoValue("status"))
			}
			if f.StreamEnded() {
				return true, status, sb.String()
			}
		case *http2.DataFrame:
			sb.Write(f.Data())
			if f.StreamEnded() {
				return true, status, sb.String()
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v", f.ErrCode)
		}
	}
}

func TestH2C(t *testing.T) {
	be := newRecorder(t, "be")
	inst := start(t, fmt.Sprintf(`
listeners:
  - { name: on, address: "127.0.0.1:0", h2c: true }
  - { name: off, address: "127.0.0.1:0" }
routes:
  - match: { path: /be/* }
    upstream: be
  - respond: { body: "ok" }
upstreams:
  be: { targets: [ "%s" ] }
`, be.Addr()))
	on, off := inst.Addrs["on"], inst.Addrs["off"]

	t.Run("prior knowledge on an h2c listener", func(t *testing.T) {
		resp, body, err := h2cGet(on, "/")
		if err != nil || resp.ProtoMajor != 2 || resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("got %v %q %v, want 200 ok over HTTP/2", resp, body, err)
		}
		resp, body, err = h2cGet(on, "/be/pk")
		if err != nil || resp.StatusCode != 200 || body != "be /be/pk" {
			t.Fatalf("proxied over h2c: %v %q %v", resp, body, err)
		}
	})
	t.Run("prior knowledge refused elsewhere", func(t *testing.T) {
		if _, body, err := h2cGet(off, "/"); err == nil {
			t.Fatalf("h2c served on a listener without h2c: %q", body)
		}
		resp, _, err := rawExchange(off, http2.ClientPreface)
		if err != nil {
			t.Fatalf("preface: %v", err)
		}
		if resp.StatusCode < 400 || resp.StatusCode > 499 || !resp.Close {
			t.Fatalf("preface answered %d (close %v), want 4xx and close", resp.StatusCode, resp.Close)
		}
	})
	t.Run("upgrade on an h2c listener", func(t *testing.T) {
		switched, status, body := h2cUpgrade(t, on)
		if !switched || status != 200 || body != "be /be/x" {
			t.Fatalf("switched %v, %d %q; want 101 then 200 from the backend", switched, status, body)
		}
		if h := be.Last(t).Header; h.Get("Upgrade") != "" || h.Get("Http2-Settings") != "" {
			t.Errorf("backend saw the upgrade fields: %v", h)
		}
	})
	t.Run("upgrade ignored and not forwarded elsewhere", func(t *testing.T) {
		switched, status, body := h2cUpgrade(t, off)
		if switched || status != 200 || body != "be /be/x" {
			t.Fatalf("switched %v, %d %q; want 200 over HTTP/1.1", switched, status, body)
		}
		// Forwarding Upgrade: h2c would let the client talk HTTP/2 to the
		// backend past the proxy (h2c smuggling).
		if h := be.Last(t).Header; h.Get("Upgrade") != "" || h.Get("Http2-Settings") != "" {
			t.Errorf("backend saw the upgrade fields: %v", h)
		}
	})
}
