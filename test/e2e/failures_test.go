package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// hangingBackend accepts connections and reads, but never answers.
func hangingBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.Discard, c) // until closed by either side
			}()
		}
	}()
	return ln.Addr().String()
}

// TestBackendFailures: a refused connection is 502 quickly, a backend that
// never answers is 504 at timeouts.response_header, both with our own short
// body; a backend dying mid-body gives the client an error, never a clean
// complete response.
func TestBackendFailures(t *testing.T) {
	dead := closedPort(t)
	hang := hangingBackend(t)
	truncCL := newRawBackend(t, func(_ *http.Request, w io.Writer) bool {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
		w.Write(make([]byte, 100))
		return false
	})
	truncChunked := newRawBackend(t, func(_ *http.Request, w io.Writer) bool {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n")
		w.Write(make([]byte, 100))
		io.WriteString(w, "\r\n") // no terminating 0-size chunk
		return false
	})
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /dead }
    upstream: dead
  - match: { path: /hang }
    timeouts: { response_header: 500ms }
    upstream: hang
  - match: { path: /trunc-cl }
    upstream: trunc-cl
  - match: { path: /trunc-chunked }
    upstream: trunc-chunked
upstreams:
  dead: { targets: [ "%s" ] }
  hang: { targets: [ "%s" ] }
  trunc-cl: { targets: [ "%s" ] }
  trunc-chunked: { targets: [ "%s" ] }
`, dead, hang, truncCL.Addr(), truncChunked.Addr()))
	c := newClient(t)

	t.Run("dead backend 502", func(t *testing.T) {
		began := time.Now()
		status, body, hdr := get(t, c, inst.URL("/dead"), "")
		elapsed := time.Since(began)
		if status != http.StatusBadGateway {
			t.Errorf("status %d, want 502", status)
		}
		if elapsed > time.Second {
			t.Errorf("502 took %v, want < 1s", elapsed)
		}
		assertErrorBody(t, body, hdr, dead)
	})

	t.Run("hanging backend 504", func(t *testing.T) {
		began := time.Now()
		status, body, hdr := get(t, c, inst.URL("/hang"), "")
		elapsed := time.Since(began)
		if status != http.StatusGatewayTimeout {
			t.Errorf("status %d, want 504", status)
		}
		if elapsed < 400*time.Millisecond || elapsed > 2*time.Second {
			t.Errorf("504 after %v, want about the configured 500ms", elapsed)
		}
		assertErrorBody(t, body, hdr, hang)
	})

	for _, path := range []string{"/trunc-cl", "/trunc-chunked"} {
		t.Run("backend dies mid-body "+path, func(t *testing.T) {
			resp, err := c.Get(inst.URL(path))
			if err != nil {
				return // the client saw an error: fine
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			switch {
			case resp.StatusCode == http.StatusOK && err == nil:
				t.Errorf("client got a clean complete 200 with %d bytes; want a broken body", len(b))
			case resp.StatusCode == http.StatusOK && !errors.Is(err, io.ErrUnexpectedEOF):
				t.Logf("body error %v (not io.ErrUnexpectedEOF, but an error)", err)
			case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadGateway:
				t.Errorf("status %d, want a broken 200 or 502", resp.StatusCode)
			}
		})
	}
}
