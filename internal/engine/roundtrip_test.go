package engine

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// directRig is a ConnPool and one target for RoundTrip tests.
type directRig struct {
	p *ConnPool
	t *upstream.Target
}

func newDirectRig(t *testing.T, addr string) *directRig {
	t.Helper()
	p, err := NewConnPool(PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	tg, err := upstream.ParseTarget(addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &directRig{p: p, t: tg}
}

// get builds a bodyless outbound request as ReverseProxy hands it over.
func (d *directRig) req(t *testing.T, ctx context.Context, method, target string) *http.Request {
	t.Helper()
	r, err := http.NewRequestWithContext(ctx, method, "http://"+d.t.URLHost()+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (d *directRig) do(t *testing.T, r *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := d.p.RoundTrip(r, d.t)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	res.Body.Close()
	return res, string(b)
}

// scriptedBackend serves each accepted connection with serve, for responses
// net/http would not send.
func scriptedBackend(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	return serveConns(t, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(testDeadline))
		serve(c, bufio.NewReader(c))
	})
}

// readHead reads one request head from br.
func readHead(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			return sb.String(), err
		}
		if line == "\r\n" {
			return sb.String(), nil
		}
	}
}

func TestDirectOK(t *testing.T) {
	body := io.NopCloser(strings.NewReader("x"))
	for _, tc := range []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"get", &http.Request{Method: "GET", Header: http.Header{}}, true},
		{"delete without body", &http.Request{Method: "DELETE", Header: http.Header{}}, true},
		{"small body", &http.Request{Method: "POST", Header: http.Header{}, Body: body, ContentLength: 1}, true},
		{"body at the bound", &http.Request{Method: "POST", Header: http.Header{}, Body: body, ContentLength: maxDirectBody}, true},
		{"body over the bound", &http.Request{Method: "POST", Header: http.Header{}, Body: body, ContentLength: maxDirectBody + 1}, false},
		{"body of unknown length", &http.Request{Method: "POST", Header: http.Header{}, Body: body, ContentLength: -1}, false},
		{"length without a body", &http.Request{Method: "POST", Header: http.Header{}, ContentLength: 1}, false},
		{"expect", &http.Request{Method: "POST", Header: http.Header{"Expect": {"100-continue"}}, Body: body, ContentLength: 1}, false},
		{"upgrade", &http.Request{Method: "GET", Header: http.Header{"Upgrade": {"websocket"}}}, false},
	} {
		if got := DirectOK(tc.r); got != tc.want {
			t.Errorf("%s: DirectOK = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// countingBody records whether it was read and whether it saw its end.
type countingBody struct {
	r        io.Reader
	reads    int
	sawEOF   bool
	isClosed bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	b.reads++
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.sawEOF = true
	}
	return n, err
}

func (b *countingBody) Close() error { b.isClosed = true; return nil }

func TestRoundTripSendsASmallBody(t *testing.T) {
	heads := make(chan string, 1)
	addr := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		h, err := readHead(br)
		if err != nil {
			return
		}
		body := make([]byte, 13)
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		heads <- h + string(body)
		io.WriteString(c, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
	})
	d := newDirectRig(t, addr)
	r := d.req(t, context.Background(), "POST", "/v1/chat")
	cb := &countingBody{r: strings.NewReader(`{"model":"x"}`)}
	r.Body, r.ContentLength = cb, 13
	r.Header.Set("Content-Type", "application/json")
	res, body := d.do(t, r)
	if res.StatusCode != 201 || body != "ok" {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
	got := <-heads
	if !strings.HasPrefix(got, "POST /v1/chat HTTP/1.1\r\n") || !strings.Contains(got, "\r\nContent-Length: 13\r\n") ||
		!strings.HasSuffix(got, "\r\n\r\n{\"model\":\"x\"}") {
		t.Fatalf("backend got %q", got)
	}
	if !cb.sawEOF || !cb.isClosed {
		t.Errorf("body read to its end %v, closed %v: the end of the upload was not seen", cb.sawEOF, cb.isClosed)
	}
	if d.p.Idle(d.t) != 1 {
		t.Fatal("connection not pooled after the exchange")
	}
}

func TestRoundTripExchangesAndReuses(t *testing.T) {
	addr := backend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
			return
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			w.Write([]byte("part one,"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
			w.Header().Set("X-Sum", "42")
			return
		}
		echo(w, r)
	})
	d := newDirectRig(t, addr)
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{})
	r := d.req(t, ctx, "GET", "/a%2Fb?q=1&r")
	r.Host = "front.example"
	r.Header.Set("X-Request-Id", "rid-1")
	r.Header.Set("User-Agent", "") // ReverseProxy's "send none"
	res, body := d.do(t, r)
	if res.StatusCode != 200 || body != "" {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
	for k, want := range map[string]string{
		"X-Method": "GET", "X-Uri": "/a%2Fb?q=1&r", "X-Host": "front.example",
		"X-Proto": "HTTP/1.1", "X-Got-X-Request-Id": "rid-1", "X-Names": "X-Request-Id",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	waitFor(t, "the connection back in the pool", func() bool { return d.p.Idle(d.t) == 1 })

	// Bodyless responses give the connection back at once; the same one
	// carries every request.
	r = d.req(t, ctx, "HEAD", "/")
	res, err := d.p.RoundTrip(r, d.t)
	if err != nil {
		t.Fatal(err)
	}
	if d.p.Idle(d.t) != 1 {
		t.Fatalf("HEAD response did not return the connection before its body was read")
	}
	res.Body.Close()
	res, _ = d.do(t, d.req(t, ctx, "DELETE", "/nocontent"))
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", res.StatusCode)
	}
	res, body = d.do(t, d.req(t, ctx, "GET", "/chunked"))
	if body != "part one,part two" || res.Trailer.Get("X-Sum") != "42" {
		t.Fatalf("chunked body %q, trailer %v", body, res.Trailer)
	}
	if d.p.Idle(d.t) != 1 {
		t.Fatalf("idle = %d, want the one connection", d.p.Idle(d.t))
	}
}

func TestRoundTripSendsContentLengthZeroLikeTransport(t *testing.T) {
	heads := make(chan string, 1)
	addr := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		for {
			h, err := readHead(br)
			if err != nil {
				return
			}
			heads <- h
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
	})
	d := newDirectRig(t, addr)
	// transfer.go's shouldSendContentLength: servers expect one on POST,
	// PUT and PATCH; RFC 9110 §8.6: not on requests without content else.
	for m, want := range map[string]bool{"GET": false, "HEAD": false, "DELETE": false, "OPTIONS": false, "POST": true, "PUT": true, "PATCH": true} {
		d.do(t, d.req(t, context.Background(), m, "/"))
		h := <-heads
		if has := strings.Contains(h, "\r\nContent-Length: 0\r\n"); has != want {
			t.Errorf("%s head %q: Content-Length: 0 present = %v, want %v", m, h, has, want)
		}
		if strings.Contains(h, "User-Agent") {
			t.Errorf("%s head carries a User-Agent nobody set: %q", m, h)
		}
	}
}

// A request that cannot be repeated (POST) must not be sent on a pooled
// connection the backend has closed: the peek finds the close, and a new
// connection carries it.
func TestRoundTripPOSTAvoidsAClosedPooledConnection(t *testing.T) {
	closed := make(chan struct{}, 4)
	var served atomic.Int32
	addr := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		h, err := readHead(br)
		if err != nil {
			return
		}
		if strings.HasPrefix(h, "POST") {
			io.CopyN(io.Discard, br, 7)
		}
		served.Add(1)
		// Answer without "Connection: close", then close at once: a
		// backend whose keep-alive timeout is shorter than the pool's.
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close()
		closed <- struct{}{}
	})
	d := newDirectRig(t, addr)
	d.do(t, d.req(t, context.Background(), "GET", "/"))
	<-closed // the FIN is in the pooled connection's receive queue now (loopback)
	if d.p.Idle(d.t) != 1 {
		t.Fatal("connection not pooled")
	}
	r := d.req(t, context.Background(), "POST", "/")
	r.Body, r.ContentLength = io.NopCloser(strings.NewReader(`{"a":1}`)), 7
	res, body := d.do(t, r)
	if res.StatusCode != 200 || body != "ok" || served.Load() != 2 {
		t.Fatalf("status %d body %q served %d", res.StatusCode, body, served.Load())
	}
}

// A request whose context ends before it has a connection fails with the
// context's cause, not as a connect failure of the target.
func TestRoundTripCancelledWhileDialling(t *testing.T) {
	d := newDirectRig(t, "127.0.0.1:9") // discard port: nothing listens
	cause := errors.New("client went away")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if _, err := d.p.RoundTrip(d.req(t, ctx, "GET", "/"), d.t); !errors.Is(err, cause) {
		t.Fatalf("err = %v, want the context's cause", err)
	}
}

func TestRoundTripRetriesAStalePooledConnection(t *testing.T) {
	var served atomic.Int32
	addr := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readHead(br); err != nil {
			return
		}
		served.Add(1)
		// Answer, then close as a backend whose idle timeout fired.
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	d := newDirectRig(t, addr)
	d.do(t, d.req(t, context.Background(), "GET", "/"))
	if d.p.Idle(d.t) != 1 {
		t.Fatal("connection not pooled")
	}
	// The pooled connection is closed by now or soon; the next GET must
	// still succeed, on a new connection.
	res, body := d.do(t, d.req(t, context.Background(), "GET", "/"))
	if res.StatusCode != 200 || body != "ok" || served.Load() != 2 {
		t.Fatalf("status %d body %q served %d", res.StatusCode, body, served.Load())
	}
}

func TestRoundTripCancelledWhileWaiting(t *testing.T) {
	addr := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		readHead(br)
		io.Copy(io.Discard, br) // never answers
	})
	d := newDirectRig(t, addr)
	cause := errors.New("the proxy's response header timeout")
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(cause) })
	start := time.Now()
	_, err := d.p.RoundTrip(d.req(t, ctx, "GET", "/"), d.t)
	if !errors.Is(err, cause) {
		t.Fatalf("err = %v, want the context's cause", err)
	}
	if time.Since(start) > testDeadline {
		t.Fatal("cancel did not cut the wait")
	}
	if d.p.Idle(d.t) != 0 {
		t.Fatal("a cancelled exchange's connection went back to the pool")
	}
}

func TestRoundTripBodyCutOrAbandoned(t *testing.T) {
	addr := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		readHead(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
		io.Copy(io.Discard, br)
	})
	d := newDirectRig(t, addr)
	ctx, cancel := context.WithCancelCause(context.Background())
	res, err := d.p.RoundTrip(d.req(t, ctx, "GET", "/"), d.t)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "abc" {
		t.Fatalf("read %q, %v", buf, err)
	}
	cause := errors.New("client went away")
	time.AfterFunc(20*time.Millisecond, func() { cancel(cause) })
	if _, err := res.Body.Read(buf); !errors.Is(err, cause) {
		t.Fatalf("blocked body read ended with %v, want the context's cause", err)
	}
	res.Body.Close()
	if d.p.Idle(d.t) != 0 {
		t.Fatal("a connection with an unread body went back to the pool")
	}

	// Closed before the end: the connection is dropped, not drained.
	res, err = d.p.RoundTrip(d.req(t, context.Background(), "GET", "/"), d.t)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if _, err := res.Body.Read(buf); !errors.Is(err, http.ErrBodyReadAfterClose) {
		t.Fatalf("read after close: %v", err)
	}
	if d.p.Idle(d.t) != 0 {
		t.Fatal("an abandoned body's connection went back to the pool")
	}
}

func TestRoundTripBrokenResponses(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp string
		want error // nil: any error
	}{
		{"head too large", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", maxRespHead) + "\r\n\r\n", errDirectHead},
		{"1xx heads over the bound without a trace", strings.Repeat("HTTP/1.1 102 Processing\r\nX-Pad: "+strings.Repeat("p", 64<<10)+"\r\n\r\n", 17) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", errDirectHead},
		{"unasked 101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n", errDirect101},
		{"garbage", "SSH-2.0-OpenSSH\r\n\r\n", nil},
		{"closed before answering", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
				readHead(br)
				io.WriteString(c, tc.resp)
			})
			d := newDirectRig(t, addr)
			_, err := d.p.RoundTrip(d.req(t, context.Background(), "GET", "/"), d.t)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if protocol.StatusFor(err) != http.StatusBadGateway {
				t.Errorf("maps to %d, want 502", protocol.StatusFor(err))
			}
		})
	}
}

func TestRoundTripInterimResponsesReachTheTrace(t *testing.T) {
	// Eight interim heads of 200 KiB each: over the 1 MiB head bound
	// together, but each was handed to the trace, which then bounds them
	// (as http.Transport: a WebDAV server may send 102 for long).
	interim := "HTTP/1.1 102 Processing\r\nX-Pad: " + strings.Repeat("p", 200<<10) + "\r\n\r\n"
	addr := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		readHead(br)
		io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"+
			strings.Repeat(interim, 8)+"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	d := newDirectRig(t, addr)
	var got []string
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got = append(got, strconv.Itoa(code)+" "+h.Get("Link"))
			return nil
		},
	})
	res, body := d.do(t, d.req(t, ctx, "GET", "/"))
	if res.StatusCode != 200 || body != "ok" || len(got) != 9 || got[0] != "103 </style.css>; rel=preload" || got[8] != "102 " {
		t.Fatalf("status %d body %q interim %q", res.StatusCode, body, got)
	}
}

func TestRoundTripUntilCloseBody(t *testing.T) {
	addr := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		readHead(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nuntil the end")
	})
	d := newDirectRig(t, addr)
	_, body := d.do(t, d.req(t, context.Background(), "GET", "/"))
	if body != "until the end" {
		t.Fatalf("body %q", body)
	}
	if d.p.Idle(d.t) != 0 {
		t.Fatal("a connection delimited by its close went back to the pool")
	}
}

func TestRoundTripRefusesWhatCouldSplitTheHead(t *testing.T) {
	var got atomic.Int32
	addr := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readHead(br); err == nil {
			got.Add(1)
		}
	})
	d := newDirectRig(t, addr)
	for name, edit := range map[string]func(r *http.Request){
		"value with CRLF": func(r *http.Request) { r.Header.Set("X-A", "1\r\nX-Injected: 1") },
		"bad name":        func(r *http.Request) { r.Header["X A"] = []string{"1"} },
		"bad host":        func(r *http.Request) { r.Host = "a b" },
		"bad method":      func(r *http.Request) { r.Method = "GE T" },
	} {
		r := d.req(t, context.Background(), "GET", "/")
		edit(r)
		if _, err := d.p.RoundTrip(r, d.t); !errors.Is(err, errDirectRequest) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	for name, tc := range map[string]struct {
		body string
		n    int64
	}{
		"body longer than its length":  {"xy", 1},
		"body shorter than its length": {"x", 5},
		"body too large":               {"x", maxDirectBody + 1},
	} {
		r := d.req(t, context.Background(), "POST", "/")
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader(tc.body)), tc.n
		want := protocol.ErrContentLength
		if tc.n > maxDirectBody {
			want = errDirectRequest
		}
		if _, err := d.p.RoundTrip(r, d.t); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
		}
	}
	if got.Load() != 0 {
		t.Fatalf("%d refused requests reached the backend", got.Load())
	}
}

func TestRoundTripConnectFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	d := newDirectRig(t, addr)
	_, err = d.p.RoundTrip(d.req(t, context.Background(), "GET", "/"), d.t)
	if !errors.Is(err, protocol.ErrUpstreamConnect) {
		t.Fatalf("err = %v, want ErrUpstreamConnect", err)
	}
}

// The peek before a POST must not take a deadline an earlier exchange left
// armed, now past, for a dead connection (a route with short timeouts
// would dial anew for every POST).
func TestPeekIgnoresAnExpiredDeadline(t *testing.T) {
	var accepted atomic.Int32
	addr := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		accepted.Add(1)
		for {
			h, err := readHead(br)
			if err != nil {
				return
			}
			if strings.HasPrefix(h, "POST") {
				io.CopyN(io.Discard, br, 1)
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	d := newDirectRig(t, addr)
	d.do(t, d.req(t, context.Background(), "GET", "/"))
	uc := d.p.get(d.t, time.Time{})
	if uc == nil {
		t.Fatal("connection not pooled")
	}
	past := time.Now().Add(-time.Second)
	_ = uc.nc.SetReadDeadline(past)
	uc.rdl.set(past)
	d.p.put(uc, time.Time{})
	r := d.req(t, context.Background(), "POST", "/")
	r.Body, r.ContentLength = io.NopCloser(strings.NewReader("x")), 1
	if res, body := d.do(t, r); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("%d %q", res.StatusCode, body)
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("the backend accepted %d connections: the healthy pooled one was taken for dead", n)
	}
}
