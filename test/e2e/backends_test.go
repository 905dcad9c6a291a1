package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recorder is a backend that records what it received and answers with its
// name and the path it saw.
type recorder struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

// recorded is one request as the backend saw it.
type recorded struct {
	Method string
	Path   string // RequestURI as received
	Host   string
	Header http.Header
	Body   []byte
	BodyOK bool // the whole body was read without error
}

func newRecorder(t *testing.T, name string) *recorder {
	t.Helper()
	r := &recorder{name: name}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{
			Method: req.Method, Path: req.RequestURI, Host: req.Host,
			Header: req.Header.Clone(), Body: body, BodyOK: err == nil,
		})
		r.mu.Unlock()
		w.Header().Set("X-Backend", name)
		fmt.Fprintf(w, "%s %s", name, req.URL.Path)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// Addr is the backend's host:port.
func (r *recorder) Addr() string { return strings.TrimPrefix(r.srv.URL, "http://") }

// Count is the number of requests whose handler ran.
func (r *recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// PathCount is the number of requests received for path (RequestURI).
func (r *recorder) PathCount(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.reqs {
		if q.Path == path {
			n++
		}
	}
	return n
}

// Complete is the number of requests whose body was read to the end.
func (r *recorder) Complete() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.reqs {
		if q.BodyOK {
			n++
		}
	}
	return n
}

// Last returns the last request received (fails when none).
func (r *recorder) Last(t *testing.T) recorded {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatalf("backend %s received no request", r.name)
	}
	return r.reqs[len(r.reqs)-1]
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// rawBackend is a backend that writes its responses by hand, for shapes
// net/http would not produce (Connection-listed headers, truncated bodies,
// no answer at all). respond is called per request; returning false closes
// the connection.
type rawBackend struct {
	ln    net.Listener
	mu    sync.Mutex
	count int
	conns []net.Conn
}

func newRawBackend(t *testing.T, respond func(req *http.Request, w io.Writer) bool) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, conn)
			b.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					b.mu.Lock()
					b.count++
					b.mu.Unlock()
					if !respond(req, conn) {
						return
					}
				}
			}()
		}
	}()
	return b
}

func (b *rawBackend) Addr() string { return b.ln.Addr().String() }

func (b *rawBackend) Count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.count
}
