package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// roundTrip sends GET /path to the pool's first target as the proxy would.
func xportGet(t *testing.T, p *Pool) (*http.Response, string, error) {
	t.Helper()
	tg, err := p.Pick(&PickContext{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(WithConnectTimeout(ctx, 2*time.Second), "GET", tg.Scheme()+"://"+tg.URLHost()+"/x", nil)
	req.Host = tg.HostHeader()
	res, err := p.Transport().RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res, string(body), err
}

// xportLogs counts records per level.
type xportLogs struct {
	mu   sync.Mutex
	msgs []string
}

func (l *xportLogs) Enabled(context.Context, slog.Level) bool { return true }
func (l *xportLogs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Level.String()+" "+r.Message)
	return nil
}
func (l *xportLogs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *xportLogs) WithGroup(string) slog.Handler      { return l }
func (l *xportLogs) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

func TestTransportH2C(t *testing.T) {
	t.Parallel()
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	var closed atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "Grpc-Status")
		io.WriteString(w, r.Proto+" "+r.Host)
		w.Header().Set("Grpc-Status", "0")
	}))
	srv.Config.Protocols = &protos
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	p, err := NewPool("grpc", config.Upstream{Targets: []string{"h2c://" + addr}}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, body, err := xportGet(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if res.ProtoMajor != 2 || body != "HTTP/2.0 "+addr {
		t.Fatalf("proto %s body %q, want HTTP/2 both ways", res.Proto, body)
	}
	if got := res.Trailer.Get("Grpc-Status"); got != "0" {
		t.Fatalf("trailer Grpc-Status = %q", got)
	}
	p.Close() // closes the idle HTTP/2 connection
	if !xportPoll(5*time.Second, func() bool { return closed.Load() == 1 }) {
		t.Fatal("Close did not close the idle h2c connection")
	}
}

func TestTransportHTTPS(t *testing.T) {
	t.Parallel()
	ca := certs.NewCA(t, "gatehouse test CA")
	otherCA := certs.NewCA(t, "gatehouse other test CA")
	ipCert := ca.Leaf(t, certs.Spec{Names: []string{"127.0.0.1"}})
	nameCert := ca.Leaf(t, certs.Spec{Names: []string{"localhost"}})
	altCert := ca.Leaf(t, certs.Spec{Names: []string{"backend.test"}})
	wrongCert := otherCA.Leaf(t, certs.Spec{Names: []string{"127.0.0.1"}})
	clientCertFile, clientKeyFile := certs.WriteFiles(t, t.TempDir(), "client", ca.Leaf(t, certs.Spec{CN: "gatehouse-client", Client: true}))

	for _, tc := range []struct {
		name       string
		cert       tls.Certificate
		http1Only  bool
		clientAuth bool
		host       string // target host; default 127.0.0.1
		tls        *config.UpstreamTLS
		wantProto  int // 0 = want an error
		wantSNI    string
		wantWarn   bool
	}{
		{name: "verified h2", cert: ipCert, tls: &config.UpstreamTLS{CA: ca.File}, wantProto: 2},
		{name: "verified http1 backend", cert: ipCert, http1Only: true, tls: &config.UpstreamTLS{CA: ca.File}, wantProto: 1},
		{name: "name target sends its name", cert: nameCert, host: "localhost", tls: &config.UpstreamTLS{CA: ca.File}, wantProto: 2, wantSNI: "localhost"},
		{name: "server_name override", cert: altCert, tls: &config.UpstreamTLS{CA: ca.File, ServerName: "backend.test"}, wantProto: 2, wantSNI: "backend.test"},
		{name: "wrong name", cert: altCert, tls: &config.UpstreamTLS{CA: ca.File}},
		{name: "unknown CA", cert: wrongCert, tls: &config.UpstreamTLS{CA: ca.File}},
		{name: "system roots only", cert: ipCert},
		{name: "insecure skip verify", cert: wrongCert, tls: &config.UpstreamTLS{InsecureSkipVerify: true}, wantProto: 2, wantWarn: true},
		{name: "mtls with client cert", cert: ipCert, clientAuth: true, tls: &config.UpstreamTLS{CA: ca.File, Cert: clientCertFile, Key: clientKeyFile}, wantProto: 2},
		{name: "mtls without client cert", cert: ipCert, clientAuth: true, tls: &config.UpstreamTLS{CA: ca.File}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var sni atomic.Value
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				peer := ""
				if len(r.TLS.PeerCertificates) > 0 {
					peer = r.TLS.PeerCertificates[0].Subject.CommonName
				}
				io.WriteString(w, r.Host+" "+peer)
			}))
			srv.EnableHTTP2 = !tc.http1Only
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point
			srv.TLS = &tls.Config{
				Certificates: []tls.Certificate{tc.cert},
				GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
					sni.Store(hello.ServerName)
					return nil, nil
				},
			}
			if tc.clientAuth {
				srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
				srv.TLS.ClientCAs = ca.Pool
			}
			srv.StartTLS()
			defer srv.Close()
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			host := tc.host
			if host == "" {
				host = "127.0.0.1"
			}
			logs := &xportLogs{}
			p, err := NewPool("tls", config.Upstream{Targets: []string{"https://" + net.JoinHostPort(host, port)}, TLS: tc.tls},
				PoolOptions{Logger: slog.New(logs)})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if got := logs.count("WARN"); (got == 1) != tc.wantWarn {
				t.Errorf("%d warnings at build, want warning=%t", got, tc.wantWarn)
			}
			res, body, err := xportGet(t, p)
			if tc.wantProto == 0 {
				if err == nil {
					t.Fatalf("request succeeded (%s %q), want a TLS failure", res.Proto, body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.ProtoMajor != tc.wantProto {
				t.Errorf("proto %s, want HTTP/%d", res.Proto, tc.wantProto)
			}
			if want := net.JoinHostPort(host, port); !strings.HasPrefix(body, want+" ") {
				t.Errorf("backend saw Host %q, want %q", body, want)
			}
			if tc.clientAuth && !strings.HasSuffix(body, " gatehouse-client") {
				t.Errorf("backend saw client certificate %q", body)
			}
			if got, _ := sni.Load().(string); got != tc.wantSNI {
				t.Errorf("SNI %q, want %q", got, tc.wantSNI)
			}
		})
	}
}

func TestTransportHTTPSHandshakeErrorIsConnectFailure(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	p, err := NewPool("tls", config.Upstream{Targets: []string{"https://" + srv.Listener.Addr().String()}}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, _, err = xportGet(t, p)
	var unknown x509.UnknownAuthorityError
	if !errors.Is(err, protocol.ErrUpstreamConnect) || !errors.As(err, &unknown) {
		t.Fatalf("err = %v, want ErrUpstreamConnect wrapping x509.UnknownAuthorityError", err)
	}
	if got := protocol.StatusFor(err); got != http.StatusBadGateway {
		t.Fatalf("StatusFor = %d, want 502", got)
	}
}

func TestTransportBuildErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name    string
		cfg     config.Upstream
		mention string
	}{
		{"unreadable ca", config.Upstream{Targets: []string{"https://127.0.0.1:1"}, TLS: &config.UpstreamTLS{CA: missing}}, missing},
		{"ca without certificates", config.Upstream{Targets: []string{"https://127.0.0.1:1"}, TLS: &config.UpstreamTLS{CA: empty}}, empty},
		{"bad client cert", config.Upstream{Targets: []string{"https://127.0.0.1:1"}, TLS: &config.UpstreamTLS{Cert: missing, Key: missing}}, missing},
		{"mixed schemes", config.Upstream{Targets: []string{"h2c://127.0.0.1:1", "127.0.0.1:2"}}, "mix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewPool("bad", tc.cfg, PoolOptions{})
			if !errors.Is(err, ErrBadTransport) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("err = %v, want ErrBadTransport mentioning %q", err, tc.mention)
			}
		})
	}
}

// TestTransportLimits checks that every scheme keeps the keep-alive limits.
func TestTransportLimits(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"127.0.0.1:1", "h2c://127.0.0.1:1", "https://127.0.0.1:1"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			p, err := NewPool("lim", config.Upstream{
				Targets: []string{target}, MaxIdlePerTarget: 7, MaxConnsPerTarget: 9,
				IdleConnTimeout: config.Duration(42 * time.Second),
			}, PoolOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tr := p.Transport().(*http.Transport)
			if tr.MaxIdleConnsPerHost != 7 || tr.MaxConnsPerHost != 9 || tr.IdleConnTimeout != 42*time.Second || !tr.DisableCompression || tr.Proxy != nil {
				t.Fatalf("limits not applied: idle %d conns %d timeout %v", tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost, tr.IdleConnTimeout)
			}
		})
	}
}

// waitFor polls cond until it holds or timeout passes.
func xportPoll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}
