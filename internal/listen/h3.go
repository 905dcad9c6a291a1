package listen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// HTTP/3 (RFC 9114) over QUIC (RFC 9000) on the UDP side of a TLS
// listener's address, with tls.http3: true (docs/tls.md). It serves the
// same handler as the TCP side and starts and stops with the listener.

// h3AltSvcMaxAge is the Alt-Svc "ma" parameter (RFC 7838 §3): how long a
// client may remember that HTTP/3 is offered here. One day: long enough to
// matter, short enough that turning http3 off is noticed.
const h3AltSvcMaxAge = 86400

// udpBufferSize is the socket buffer quic-go asks for (7 MiB); Linux's
// default rmem_max is far smaller, which costs throughput, not
// correctness.
const udpBufferSize = 7 << 20

// h3Server is one HTTP/3 server and its UDP socket.
type h3Server struct {
	srv  *http3.Server
	pc   *net.UDPConn
	done chan struct{}
}

// startH3 binds UDP on tcpAddr's IP and port and serves handler over
// HTTP/3 with a copy of tlsCfg (certificates and client-auth settings
// unchanged; TLS 1.3 and ALPN "h3", which QUIC requires: RFC 9001 §4.2,
// RFC 9114 §3.1). base supplies MaxHeaderBytes and IdleTimeout.
func startH3(tcpAddr net.Addr, tlsCfg *tls.Config, handler http.Handler, base *http.Server, logger *slog.Logger) (*h3Server, error) {
	ta, ok := tcpAddr.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("http3: listener address %s is not TCP", tcpAddr)
	}
	if tlsCfg == nil {
		return nil, errors.New("http3: listener has no TLS configuration")
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: ta.IP, Port: ta.Port, Zone: ta.Zone})
	if err != nil {
		return nil, fmt.Errorf("http3: %w", err)
	}
	tuneUDPBuffers(pc, logger)
	tc := tlsCfg.Clone()
	tc.MinVersion = tls.VersionTLS13
	tc.NextProtos = []string{http3.NextProtoH3}
	h := &h3Server{
		pc:   pc,
		done: make(chan struct{}),
		srv: &http3.Server{
			Handler:   handler,
			TLSConfig: http3.ConfigureTLSConfig(tc),
			QUICConfig: &quic.Config{
				// 0-RTT requests can be replayed by an attacker (RFC 9001
				// §9.2, RFC 8470); a proxy cannot know which backends
				// tolerate that, so it is off.
				Allow0RTT: false,
				// The same stream bound as HTTP/2 (h2.go).
				MaxIncomingStreams: h2MaxConcurrentStreams,
			},
			MaxHeaderBytes: base.MaxHeaderBytes,
			IdleTimeout:    base.IdleTimeout,
			ConnContext:    func(ctx context.Context, _ *quic.Conn) context.Context { return markTLS(ctx, nil) },
			Logger:         logger,
		},
	}
	go func() {
		defer close(h.done)
		if err := h.srv.Serve(pc); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, quic.ErrServerClosed) {
			logger.Error("http3 listener stopped", "address", pc.LocalAddr().String(), "error", err)
		}
	}()
	return h, nil
}

// shutdown sends GOAWAY and waits for requests to finish or ctx to end
// (then it closes them and returns ctx's error); the socket is closed
// either way.
func (h *h3Server) shutdown(ctx context.Context) error {
	err := h.srv.Shutdown(ctx)
	h.closeSocket()
	return err
}

// close ends every connection at once and closes the socket.
func (h *h3Server) close() {
	_ = h.srv.Close()
	h.closeSocket()
}

func (h *h3Server) closeSocket() {
	_ = h.pc.Close()
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		// Serve returns once its QUIC listener is closed; this bound only
		// keeps a shutdown from hanging on a quic-go bug.
	}
}

// altSvc advertises HTTP/3 on the TCP side (RFC 7838 §3; RFC 9114 §3.1.1):
// every response carries Alt-Svc: h3=":PORT"; ma=86400.
type altSvc struct {
	next  http.Handler
	value string
}

func newAltSvc(next http.Handler, port int) *altSvc {
	return &altSvc{next: next, value: `h3=":` + strconv.Itoa(port) + `"; ma=` + strconv.Itoa(h3AltSvcMaxAge)}
}

// ServeHTTP implements http.Handler.
func (a *altSvc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Alt-Svc", a.value)
	a.next.ServeHTTP(w, r)
}

// tuneUDPBuffers asks for quic-go's buffer size itself and logs at Debug
// when the kernel grants less. quic-go would otherwise print the same
// finding with the standard log package on stderr, outside the structured
// log; its only switch for that is an environment variable, set here for
// the process unless the operator set it.
func tuneUDPBuffers(pc *net.UDPConn, logger *slog.Logger) {
	const quicWarning = "QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING"
	if _, set := os.LookupEnv(quicWarning); !set {
		_ = os.Setenv(quicWarning, "true")
	}
	_ = pc.SetReadBuffer(udpBufferSize)
	_ = pc.SetWriteBuffer(udpBufferSize)
	rc, err := pc.SyscallConn()
	if err != nil {
		return
	}
	var got int
	var gerr error
	_ = rc.Control(func(fd uintptr) {
		got, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	})
	if gerr == nil && got < udpBufferSize {
		logger.Debug("http3: UDP receive buffer smaller than wanted; raise net.core.rmem_max for throughput",
			"address", pc.LocalAddr().String(), "bytes", got, "wanted", udpBufferSize)
	}
}
