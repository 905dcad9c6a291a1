package runtime

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// recorder notes the status and body bytes of a response for the access
// log. It keeps streaming and upgrades working: Flush and Hijack pass
// through, and Unwrap lets http.ResponseController reach the original.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64

	// Write deadlines (server.write_timeout): each write may wait gap for
	// the client; armed is the deadline set, kept while close enough.
	rc    *http.ResponseController
	gap   time.Duration
	armed time.Time

	// watch bounds each write on HTTP/2 and HTTP/3, where a deadline
	// per write does not fit (see writeWatch); off on HTTP/1.x.
	watch writeWatch

	// reads serializes the request's read deadlines (see readGate).
	reads readGate

	// tunnel counts the bytes of a hijacked connection (an upgrade such
	// as a WebSocket) for the access log; nil until Hijack.
	tunnel *tunnelConn
}

func newRecorder(w http.ResponseWriter) *recorder {
	rc := http.NewResponseController(w)
	return &recorder{ResponseWriter: w, rc: rc, reads: readGate{rc: rc}}
}

// armWrite sets the write deadline gap from now, unless the one armed is
// within 1/64 of that (a timer update saved per write). Errors mean the
// connection takes no deadline: writes then go unbounded. HTTP/1.x only;
// HTTP/2 and HTTP/3 are watched instead (writeWatch).
func (r *recorder) armWrite() {
	if r.gap <= 0 {
		return
	}
	now := time.Now()
	d := now.Add(r.gap)
	if !r.armed.IsZero() && !d.Before(r.armed) && d.Sub(r.armed) < r.gap/64 {
		return
	}
	r.armed = d
	_ = r.rc.SetWriteDeadline(d)
}

func (r *recorder) WriteHeader(code int) {
	r.armWrite()
	// 1xx responses (100 Continue, 103 Early Hints) are informational;
	// the final status comes later (RFC 9110 §15.2).
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.armWrite()
	if r.watch.on() {
		r.watch.begin()
	}
	n, err := r.ResponseWriter.Write(p)
	if r.watch.on() {
		r.watch.end()
	}
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy's fast paths (sendfile for static files).
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.watch.on() {
		// Watched write by write (Write counts them), so a copy that
		// keeps moving is never cut; HTTP/2 and HTTP/3 writers have no
		// ReadFrom fast path to lose.
		return io.Copy(writerOnly{r}, src)
	}
	r.armWrite()
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{r.ResponseWriter}, src)
	}
	r.bytes += n
	return n, err
}

func (r *recorder) Flush() {
	r.armWrite()
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		if r.watch.on() {
			r.watch.begin()
			defer r.watch.end()
		}
		f.Flush()
	}
}

// Hijack hands the connection over (the proxy does so for an upgrade,
// after the backend's 101): the access log records 101.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil && r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	if err == nil && !r.armed.IsZero() {
		// The tunnel (a WebSocket) outlives the response; the proxy's
		// copy is bounded by the route's idle timeout instead.
		_ = c.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		return c, rw, err
	}
	r.tunnel = &tunnelConn{Conn: c}
	return r.tunnel, rw, nil
}

// tunnelConn counts the bytes a tunnel moves each way. The proxy copies
// the two directions on two goroutines and may log before the second one
// stops, hence the atomics.
type tunnelConn struct {
	net.Conn
	in, out atomic.Int64
}

func (t *tunnelConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	t.in.Add(int64(n))
	return n, err
}

func (t *tunnelConn) Write(p []byte) (int, error) {
	n, err := t.Conn.Write(p)
	t.out.Add(int64(n))
	return n, err
}

// CloseWrite half-closes the client side when the backend finished its
// direction, as the proxy does on the bare connection: the client may go
// on sending (RFC 9110 §7.8 leaves the tunnel's protocol its own rules).
// Without it the proxy would close both directions at once.
func (t *tunnelConn) CloseWrite() error {
	if cw, ok := t.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported // the proxy then ends the tunnel, as before
}

// ReadFrom keeps the connection's own ReadFrom (splice where it has one).
func (t *tunnelConn) ReadFrom(src io.Reader) (int64, error) {
	var n int64
	var err error
	if rf, ok := t.Conn.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{t.Conn}, src)
	}
	t.out.Add(n)
	return n, err
}

// writerOnly hides ReadFrom so io.Copy does not come back to it.
type writerOnly struct{ io.Writer }

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// SetReadDeadline is what http.ResponseController finds before Unwrap, so
// every read deadline set on this request, the proxy's cut of a stalled
// upload included, goes through the gate (see readGate).
func (r *recorder) SetReadDeadline(t time.Time) error { return r.reads.set(t) }
