package listen

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// h3Get sends a GET over HTTP/3 and returns status, body and Alt-Svc.
func h3Get(addr net.Addr, pool *x509.CertPool) (int, string, error) {
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.Close()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get("https://" + addr.String() + "/")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestHTTP3(t *testing.T) {
	edit, pool := tlsListener(t)
	addr, m := startVersions(t, protoHandler, func(lc *config.Listener) {
		edit(lc)
		lc.TLS.HTTP3 = true
	})
	port := addr.(*net.TCPAddr).Port

	t.Run("served over QUIC", func(t *testing.T) {
		status, body, err := h3Get(addr, pool)
		if err != nil || status != 200 || body != "HTTP/3.0 upgrade= settings=" {
			t.Fatalf("HTTP/3: %d %q %v", status, body, err)
		}
	})
	t.Run("Alt-Svc on TCP responses", func(t *testing.T) {
		for _, proto := range []string{"h2", "http/1.1"} {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{proto}}, ForceAttemptHTTP2: proto == "h2"}
			c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			resp, err := c.Get("https://" + addr.String() + "/")
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			tr.CloseIdleConnections()
			want := `h3=":` + strconv.Itoa(port) + `"; ma=86400`
			if got := resp.Header.Get("Alt-Svc"); got != want {
				t.Errorf("%s: Alt-Svc %q, want %q", resp.Proto, got, want)
			}
		}
	})
	t.Run("closed on shutdown", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		// The UDP port is free again.
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			t.Fatalf("UDP port still bound after Shutdown: %v", err)
		}
		_ = pc.Close()
	})
}

// Without tls.http3 there is no UDP socket and no Alt-Svc.
func TestHTTP3Off(t *testing.T) {
	edit, pool := tlsListener(t)
	addr, _ := startVersions(t, protoHandler, edit)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + addr.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if v := resp.Header.Get("Alt-Svc"); v != "" {
		t.Errorf("Alt-Svc %q without http3", v)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: addr.(*net.TCPAddr).Port})
	if err != nil {
		t.Fatalf("UDP port bound without http3: %v", err)
	}
	_ = pc.Close()
}
