package listen

import (
	"bufio"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
)

// h2c: cleartext HTTP/2 on a plain listener that asks for it (listener
// h2c: true; docs/tls.md). Two ways in:
//
//   - Prior knowledge (RFC 9113 §3.3): the connection starts with the
//     preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n". The framing guard and the
//     own engine let the preface through (the engine hands the connection
//     to net/http), and net/http serves it with x/net's HTTP/2 server when
//     its Protocols include UnencryptedHTTP2 (enableH2C).
//   - "Upgrade: h2c" (RFC 7540 §3.2). RFC 9113 §3.1 deprecates it, but some
//     clients still use it; it is served only when h2c is enabled, by
//     h2cHandler, which hijacks the HTTP/1.1 connection.
//
// With h2c off, the preface is answered 400 and the connection closed, and
// an "Upgrade: h2c" is ignored: the request is served as HTTP/1.1 and the
// h2c token is removed before the proxy sees it. Forwarding it would let a
// client open an HTTP/2 connection straight to a backend that speaks h2c,
// past every route and middleware ("h2c smuggling"). The same removal runs
// on TLS listeners, where h2c is never valid (RFC 7540 §3.2: "h2c" is the
// cleartext protocol).

// enableH2C lets srv serve prior-knowledge HTTP/2 on plain connections
// with h2's settings.
func enableH2C(srv *http.Server, h2 *http2.Server) error {
	if err := configureH2(srv, h2); err != nil {
		return err
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Protocols = p
	return nil
}

// h2cHandler wraps a listener's handler: it upgrades "Upgrade: h2c"
// requests when h2 is set and removes the h2c token otherwise, and refuses
// an HTTP/2 preface that net/http handed over as a request. Safe for
// concurrent use.
type h2cHandler struct {
	next  http.Handler
	srv   *http.Server  // BaseConfig of upgraded connections
	h2    *http2.Server // nil: h2c off
	log   *slog.Logger
	conns connSet // upgraded connections, hijacked from srv
}

// newH2CHandler returns next wrapped by the h2c rules; h2 nil means h2c is
// off on this listener.
func newH2CHandler(next http.Handler, srv *http.Server, h2 *http2.Server, logger *slog.Logger) *h2cHandler {
	return &h2cHandler{next: next, srv: srv, h2: h2, log: logger, conns: newConnSet()}
}

// ServeHTTP implements http.Handler.
func (h *h2cHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 && r.Method == "PRI" && r.TLS == nil {
		// net/http gives the preface to the handler as a request when it
		// did not serve it as HTTP/2: h2c is off, or the preface did not
		// start the connection (RFC 9113 §3.4 requires it to).
		w.Header().Set("Connection", "close")
		http.Error(w, "HTTP/2 without TLS is not enabled on this listener", http.StatusBadRequest)
		return
	}
	if _, ok := r.Header["Upgrade"]; ok && httpguts.HeaderValuesContainsToken(r.Header["Upgrade"], "h2c") {
		if h.h2 != nil && r.TLS == nil && h.upgradable(r) && h.upgrade(w, r) {
			return
		}
		removeH2CToken(r.Header)
	}
	h.next.ServeHTTP(w, r)
}

// upgradable reports whether r is an h2c upgrade we serve: HTTP/1.1 with
// the "upgrade" and "HTTP2-Settings" connection options and exactly one
// HTTP2-Settings field (RFC 7540 §3.2.1: a server "MUST NOT upgrade the
// connection to HTTP/2 if this header field is not present or if more
// than one is present"), and no request body: §3.2 lets the server read
// the whole body before switching, which would mean buffering it; a
// server may ignore an upgrade (RFC 9110 §7.8), so one with a body is
// served over HTTP/1.1 instead.
func (h *h2cHandler) upgradable(r *http.Request) bool {
	conn := r.Header["Connection"]
	return r.ProtoMajor == 1 && r.ProtoMinor == 1 &&
		httpguts.HeaderValuesContainsToken(conn, "upgrade") &&
		httpguts.HeaderValuesContainsToken(conn, "HTTP2-Settings") &&
		len(r.Header["Http2-Settings"]) == 1 &&
		r.ContentLength == 0 && len(r.TransferEncoding) == 0
}

// upgrade switches the connection to HTTP/2 and serves it until it ends,
// the upgrade request being stream 1 (RFC 7540 §3.2). false: nothing was
// written and the request is to be served over HTTP/1.1.
func (h *h2cHandler) upgrade(w http.ResponseWriter, r *http.Request) bool {
	// token68 in the base64url alphabet, padding omitted (§3.2.1).
	settings, err := base64.RawURLEncoding.DecodeString(r.Header.Get("Http2-Settings"))
	if err != nil || len(settings)%6 != 0 {
		return false
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	if !h.conns.add(conn) {
		_ = conn.Close()
		return true
	}
	defer h.conns.remove(conn)
	defer conn.Close()
	if _, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"); err != nil {
		return true
	}
	var nc net.Conn = conn
	if brw.Reader.Buffered() > 0 {
		// The client may send its preface right behind the request.
		nc = &bufferedConn{Conn: conn, r: brw.Reader}
	}
	// Stream 1 is the upgrade request, minus the fields that asked for
	// the upgrade (they are hop-by-hop, RFC 9110 §7.6.1), as HTTP/2.
	up := r.Clone(r.Context())
	for _, name := range []string{"Connection", "Upgrade", "Http2-Settings", "Keep-Alive", "Proxy-Connection"} {
		up.Header.Del(name)
	}
	up.Proto, up.ProtoMajor, up.ProtoMinor = "HTTP/2.0", 2, 0
	up.Body = http.NoBody
	h.h2.ServeConn(nc, &http2.ServeConnOpts{
		Context:        r.Context(),
		BaseConfig:     h.srv,
		Handler:        h.next,
		UpgradeRequest: up,
		Settings:       settings,
	})
	return true
}

// removeH2CToken removes "h2c" from the Upgrade field (other protocols,
// e.g. websocket, stay) and the HTTP2-Settings field that belongs to it.
func removeH2CToken(hdr http.Header) {
	var keep []string
	for _, v := range hdr["Upgrade"] {
		for _, el := range strings.Split(v, ",") {
			el = strings.TrimSpace(el)
			name, _, _ := strings.Cut(el, "/")
			if el != "" && !strings.EqualFold(name, "h2c") {
				keep = append(keep, el)
			}
		}
	}
	if len(keep) == 0 {
		hdr.Del("Upgrade")
	} else {
		hdr["Upgrade"] = []string{strings.Join(keep, ", ")}
	}
	hdr.Del("Http2-Settings")
}

// bufferedConn reads what the hijacked bufio.Reader holds before reading
// the connection again.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(p[:min(len(p), c.r.Buffered())])
		}
		c.r = nil
	}
	return c.Conn.Read(p)
}
