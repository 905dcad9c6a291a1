package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/engine"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

func directPool(t *testing.T) *engine.ConnPool {
	t.Helper()
	cp, err := engine.NewConnPool(engine.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Close)
	return cp
}

// A small upload through the engine's client arrives whole, with its
// Content-Length.
func TestDirectSmallUpload(t *testing.T) {
	_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Len", r.Header.Get("Content-Length"))
		w.Write(b)
	})
	cp := directPool(t)
	f := newFront(t, Options{Pool: pool, Timeouts: testTimeouts(), Direct: cp})
	res, err := f.Client().Post(f.URL+"/v1/embeddings", "application/json", strings.NewReader(`{"input":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != `{"input":"hi"}` || res.Header.Get("X-Len") != "14" {
		t.Fatalf("%d %q len %q", res.StatusCode, b, res.Header.Get("X-Len"))
	}
	if cp.Idle(pool.Targets()[0]) != 1 {
		t.Fatal("the engine's client did not carry the request")
	}
}

// A client that stops in the middle of an upload gets the upload idle
// timeout's 504 at once, on both clients.
// (net/http takes the body's lock before it writes a response head, and a
// read blocked on the stalled body held it: the 504 used to wait for the
// client.)
func TestStalledUploadTimesOut(t *testing.T) {
	for _, tc := range []struct {
		name   string
		direct bool
	}{{"engine client", true}, {"transport", false}} {
		t.Run(tc.name, func(t *testing.T) {
			var got atomic.Int32
			_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) { got.Add(1) })
			opts := Options{Pool: pool, Timeouts: Timeouts{Connect: time.Second, ResponseHeader: 5 * time.Second, Idle: 150 * time.Millisecond}}
			if tc.direct {
				opts.Direct = directPool(t)
			}
			f := newFront(t, opts)
			start := time.Now()
			br, c := rawRequest(t, frontAddr(f), "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab")
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusGatewayTimeout {
				t.Fatalf("status %d, want 504", res.StatusCode)
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("answered after %v: the stalled body read was not cut", time.Since(start))
			}
			c.Close()
			// The transport streams the upload, so the backend saw its
			// start; the engine's client sends only whole bodies.
			if tc.direct && got.Load() != 0 {
				t.Fatal("the backend saw the incomplete request")
			}
		})
	}
}

// With the body in memory, a POST whose first target refuses the
// connection goes to the next one, body and all.
func TestDirectUploadRetriedAfterConnectFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	live := newBackendAddr(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	pool, err := upstream.NewPool("backend", config.Upstream{Targets: []string{dead, live}, Policy: config.PolicyRoundRobin}, upstream.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f := newFront(t, Options{Pool: pool, Timeouts: testTimeouts(), Direct: directPool(t),
		Retries: upstream.NewRetryPolicy(config.Retries{})})
	for i := range 2 { // round robin: one of the two starts on the dead target
		res, err := f.Client().Post(f.URL, "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "payload" {
			t.Fatalf("request %d: %d %q", i, res.StatusCode, b)
		}
	}
}

func newBackendAddr(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	b, _ := newBackend(t, h)
	return b.Listener.Addr().String()
}

// lateBody records a read of the request body that ends after the handler
// returned: nothing may touch the body then (on HTTP/2 the runtime's read
// timeout would set a deadline on a finished stream, which panics).
type lateBody struct {
	io.ReadCloser
	returned *atomic.Bool
	late     *atomic.Bool
}

func (b *lateBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.returned.Load() {
		b.late.Store(true)
	}
	return n, err
}

func TestDirectBodyReadEndsWithTheHandler(t *testing.T) {
	_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {})
	h, err := New(Options{Pool: pool, Direct: directPool(t),
		Timeouts: Timeouts{Connect: time.Second, ResponseHeader: 5 * time.Second, Idle: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var returned, late atomic.Bool
	done := make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		defer returned.Store(true)
		r.Body = &lateBody{ReadCloser: r.Body, returned: &returned, late: &late}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	br, c := rawRequest(t, front.Listener.Addr().String(), "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d", res.StatusCode)
	}
	c.Close()
	<-done
	if late.Load() {
		t.Fatal("the body was still being read after the handler returned")
	}
}

// A failure that leaves no read of the body pending must not touch the
// connection: the next request on it is served as usual. (Cutting reads
// there made net/http's background read fail and cancel every later
// request on the connection.)
func TestFailureKeepsTheConnectionUsable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	for _, direct := range []bool{false, true} {
		opts := Options{Pool: newPool(t, dead), Timeouts: testTimeouts(), Retries: upstream.NewRetryPolicy(config.Retries{})}
		if direct {
			opts.Direct = directPool(t)
		}
		f := newFront(t, opts)
		for range 20 { // the harm raced with net/http's background read
			keepAliveAfterFailures(t, f, direct)
		}
	}
}

func keepAliveAfterFailures(t *testing.T, f *testFront, direct bool) {
	t.Helper()
	{
		br, c := rawRequest(t, frontAddr(f), "PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi")
		for i, next := range []string{"", "GET /b HTTP/1.1\r\nHost: h\r\n\r\n", "PUT /c HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi"} {
			if next != "" {
				if _, err := io.WriteString(c, next); err != nil {
					t.Fatal(err)
				}
			}
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("direct=%v request %d: %v", direct, i, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusBadGateway {
				t.Fatalf("direct=%v request %d: status %d, want 502", direct, i, res.StatusCode)
			}
		}
	}
}
