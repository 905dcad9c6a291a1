package listen

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
	"github.com/gatehouse-proxy/gatehouse/internal/tlsconf"
)

// failingListener fails its first n Accepts the way a process out of file
// descriptors does, then accepts normally.
type failingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.n.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// A failed Accept that is not the listener closing (EMFILE under load) must
// not stop a TLS listener: it serves again once the condition passes, over
// HTTP/1.1 and HTTP/2 alike.
func TestTLSDispatcherSurvivesAcceptErrors(t *testing.T) {
	certFile, keyFile, pool := certs.SelfSigned(t)
	certs, err := tlsconf.New(config.ListenerTLS{Cert: certFile, Key: keyFile}, tlsconf.Options{DisableOCSP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer certs.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &failingListener{Listener: ln}
	fl.n.Store(3)
	tlsCfg := certs.TLSConfig()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.Proto)
		}),
		TLSConfig:   tlsCfg,
		ConnContext: markTLS,
	}
	logger := slog.New(slog.DiscardHandler)
	d, err := newTLSDispatcher(fl, tlsCfg, srv, protocol.FramingLimits{}, 5*time.Second, time.Minute, logger)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(d)
	}()
	defer func() {
		_ = srv.Close()
		<-served
	}()

	tests := []struct {
		name string
		h2   bool
		want string
	}{
		{"http/1.1", false, "HTTP/1.1"},
		{"h2", true, "HTTP/2.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var protos http.Protocols
			protos.SetHTTP1(!tc.h2)
			protos.SetHTTP2(tc.h2)
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Protocols: &protos}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			resp, err := client.Get("https://" + ln.Addr().String() + "/")
			if err != nil {
				t.Fatalf("request after accept errors: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tc.want {
				t.Fatalf("served over %q, want %q", b, tc.want)
			}
		})
	}
}

// A listener that a reload removes is drained for shutdown_timeout and then
// closed: a stream still open at the deadline is cut, over HTTP/1.1 and
// over HTTP/2 (whose connections the dispatcher serves outside
// http.Server's bookkeeping), instead of running on forever.
func TestRemovedListenerClosesStreamsAtDeadline(t *testing.T) {
	certFile, keyFile, pool := certs.SelfSigned(t)
	tests := []struct {
		name string
		h2   bool
	}{
		{"http/1.1", false},
		{"h2", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			started := make(chan struct{}, 1)
			ended := make(chan struct{}, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				http.NewResponseController(w).Flush()
				started <- struct{}{}
				<-r.Context().Done() // a stream that never ends by itself
				ended <- struct{}{}
			})
			m := NewManager(h, slog.New(slog.DiscardHandler))
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = m.Shutdown(ctx)
			})
			cfg := &config.Config{
				Server:    config.Server{ShutdownTimeout: config.Duration(100 * time.Millisecond)},
				Listeners: []config.Listener{{Name: "tls", Address: "127.0.0.1:0", TLS: &config.ListenerTLS{Cert: certFile, Key: keyFile}}},
				Routes:    []config.Route{{Respond: &config.Respond{Body: "ok"}}},
			}
			if err := cfg.Normalize(); err != nil {
				t.Fatal(err)
			}
			if err := m.Apply(cfg); err != nil {
				t.Fatal(err)
			}
			addr := m.Addrs()["127.0.0.1:0|tls"]
			var protos http.Protocols
			protos.SetHTTP1(!tc.h2)
			protos.SetHTTP2(tc.h2)
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Protocols: &protos}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			resp, err := client.Get("https://" + addr.String() + "/stream")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			<-started

			next := *cfg
			next.Listeners = nil
			if err := m.Apply(&next); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ended:
			case <-time.After(5 * time.Second):
				t.Fatal("stream on the removed listener still open long after shutdown_timeout")
			}
		})
	}
}
