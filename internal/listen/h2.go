package listen

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/http2"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// HTTP/2 limits against abuse (docs/tls.md, "HTTP/2 limits"). They are
// constants rather than configuration: each is a safe value for a proxy,
// and a wrong one opens a denial of service.
const (
	// h2MaxConcurrentStreams is SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113
	// §6.5.2). x/net runs at most this many handlers per connection and
	// queues a few more; a client that keeps more than 4x this many
	// streams waiting (the rapid-reset pattern, CVE-2023-44487) gets
	// GOAWAY ENHANCE_YOUR_CALM and loses the connection.
	h2MaxConcurrentStreams = 250
	// h2MaxReadFrameSize is SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2): the
	// protocol's initial value, 16 KiB. x/net advertises 1 MiB by default;
	// the smaller size bounds the buffer one frame can demand and is what
	// h2spec's §4.2 tests expect (142/145 instead of 141).
	h2MaxReadFrameSize = 16 << 10
	// h2MaxDecoderHeaderTableSize is SETTINGS_HEADER_TABLE_SIZE (RFC 9113
	// §6.5.2, RFC 7541 §4.2): the HPACK dynamic table the client may make
	// us keep per connection. 4 KiB, the protocol default.
	h2MaxDecoderHeaderTableSize = 4 << 10
	// h2MaxUploadBufferPerConnection and h2MaxUploadBufferPerStream are
	// the flow-control windows we grant (RFC 9113 §6.9): the request-body
	// bytes one connection (one stream) may have in flight before the
	// proxy reads them. 1 MiB per connection (x/net's default) and 256
	// KiB per stream, so a few streams cannot pin a megabyte each.
	h2MaxUploadBufferPerConnection = 1 << 20
	h2MaxUploadBufferPerStream     = 256 << 10
	// h2ReadIdleTimeout and h2PingTimeout detect dead peers: after this
	// long without a frame the server sends a PING (RFC 9113 §6.7) and
	// closes the connection if no ACK arrives within h2PingTimeout, so
	// the streams of a client that vanished (no FIN, no RST) do not stay
	// open until the idle timeout.
	h2ReadIdleTimeout = 60 * time.Second
	h2PingTimeout     = 15 * time.Second
)

// newH2Server returns the HTTP/2 server settings shared by TLS (ALPN h2)
// and h2c listeners. The header list size (SETTINGS_MAX_HEADER_LIST_SIZE,
// RFC 9113 §6.5.2) is not set here: x/net takes it from the http.Server's
// MaxHeaderBytes, which open sets from server.max_header_bytes, so a head
// too large for HTTP/1.1 is too large for HTTP/2 as well. The CONTINUATION
// flood (CVE-2024-27316) is bounded by the same limit: x/net stops reading
// a header block once it exceeds it and closes the connection.
// idle is server.idle_timeout: a connection without open streams is
// closed (GOAWAY) after it. write is server.write_timeout: a connection
// whose peer stopped reading (zero TCP window) while there are bytes to
// send is closed once no byte could be written for that long, as HTTP/1.1
// connections are cut per write (nginx's send_timeout, 60 s by default).
// A stream stalled by HTTP/2 flow control alone (its client stopped
// granting it window, the connection goes on) is reset by the runtime's
// write watch (internal/runtime/writewatch.go), which cuts only a write
// that waits, never a quiet stream.
func newH2Server(idle, write time.Duration) *http2.Server {
	return &http2.Server{
		MaxConcurrentStreams:         h2MaxConcurrentStreams,
		MaxReadFrameSize:             h2MaxReadFrameSize,
		MaxDecoderHeaderTableSize:    h2MaxDecoderHeaderTableSize,
		MaxUploadBufferPerConnection: h2MaxUploadBufferPerConnection,
		MaxUploadBufferPerStream:     h2MaxUploadBufferPerStream,
		IdleTimeout:                  idle,
		ReadIdleTimeout:              h2ReadIdleTimeout,
		PingTimeout:                  h2PingTimeout,
		WriteByteTimeout:             write,
	}
}

// configureH2 installs h2 on srv: the TLSNextProto entries for ALPN "h2"
// and for cleartext prior knowledge, and the Shutdown hook that sends
// GOAWAY to the connections it serves.
func configureH2(srv *http.Server, h2 *http2.Server) error {
	if err := http2.ConfigureServer(srv, h2); err != nil {
		return fmt.Errorf("configure HTTP/2: %w", err)
	}
	return nil
}

// configureVersions sets up what a listener serves beyond HTTP/1.1 and
// ALPN h2, before it accepts anything: h2c (prior knowledge and Upgrade)
// on a plain listener with h2c: true, the h2c rules everywhere else (the
// h2c token is never forwarded, h2c.go), and the Alt-Svc advertisement of
// HTTP/3 on a TLS listener with tls.http3: true (h3.go; the QUIC side is
// started once the TLS configuration exists). h2c on a TLS listener has
// no effect: over TLS, HTTP/2 is negotiated with ALPN.
func (s *server) configureVersions(lc config.Listener, logger *slog.Logger) error {
	var h2 *http2.Server
	if lc.H2C && lc.TLS == nil {
		h2 = newH2Server(s.srv.IdleTimeout, s.writeTimeout)
		if err := enableH2C(s.srv, h2); err != nil {
			return err
		}
	}
	s.h2c = newH2CHandler(s.srv.Handler, s.srv, h2, logger)
	s.srv.Handler = s.h2c
	if lc.TLS != nil && lc.TLS.HTTP3 {
		ta, ok := s.addr.(*net.TCPAddr)
		if !ok {
			return fmt.Errorf("http3: listener address %s is not TCP", s.addr)
		}
		s.srv.Handler = newAltSvc(s.h2c, ta.Port)
	}
	return nil
}
