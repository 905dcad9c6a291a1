package engine

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawUpstream accepts connections and answers each first request with
// respond (which may write anything and then return, closing).
func rawUpstream(t *testing.T, respond func(c net.Conn)) string {
	t.Helper()
	return serveConns(t, func(c net.Conn) {
		buf := make([]byte, 8192)
		_, _ = c.Read(buf)
		respond(c)
	})
}

// Responses large enough to be spliced go out whole and correct, whatever
// the head size, and the connections stay usable.
func TestSplicedResponsesIntact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		header int // bytes of an extra response header
	}{
		{"just past the splice threshold", spliceMin + firstRespRead, 0},
		{"100 KiB", 100 << 10, 0},
		{"3 MiB, several pipe-fulls", 3 << 20, 0},
		{"60 KiB head", 200 << 10, 60 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz012345"), tc.size/32+1)[:tc.size]
			be := backend(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.header > 0 {
					w.Header().Set("X-Big", strings.Repeat("h", tc.header))
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				_, _ = w.Write(body)
			})
			r := newRig(t, be, rigOptions{})
			c := dial(t, r.addr)
			for i := range 3 {
				c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
				res, got := c.read("GET")
				if res.StatusCode != 200 || got != string(body) || len(res.Header.Get("X-Big")) != tc.header {
					t.Fatalf("request %d: status %d, body %d bytes (want %d), header %d bytes", i, res.StatusCode, len(got), len(body), len(res.Header.Get("X-Big")))
				}
			}
		})
	}
}

// A backend that dies mid-body of a spliced response: the client gets the
// head and the bytes that came, then a closed connection — never a
// complete-looking response, and never nothing when the head was ready.
func TestSplicedBackendCutMidBody(t *testing.T) {
	for _, sent := range []int{0, 50 << 10, 150 << 10} {
		t.Run(strconv.Itoa(sent), func(t *testing.T) {
			be := rawUpstream(t, func(c net.Conn) {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n")
				_, _ = c.Write(bytes.Repeat([]byte("x"), sent))
			})
			r := newRig(t, be, rigOptions{})
			c := dial(t, r.addr)
			c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			res, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatalf("no response head reached the client: %v", err)
			}
			got, err := io.ReadAll(res.Body)
			if err == nil {
				t.Fatalf("a cut response was delivered as complete (%d bytes)", len(got))
			}
			if len(got) > sent {
				t.Fatalf("client got %d body bytes, the backend sent %d", len(got), sent)
			}
			if !c.closed() {
				t.Fatal("the client connection stayed open after a broken response")
			}
			// The engine still serves: a fresh request on a new connection.
			c2 := dial(t, r.addr)
			c2.send("GET /handoff HTTP/1.1\r\nHost: h\r\n\r\n")
			if res, _ := c2.read("GET"); res.StatusCode != 200 {
				t.Fatalf("after the cut: %d", res.StatusCode)
			}
		})
	}
}

// A client that leaves during a spliced body: the exchange ends, the
// upstream connection is closed rather than pooled out of step, and the
// next client is served.
func TestSplicedClientGone(t *testing.T) {
	body := bytes.Repeat([]byte("y"), 16<<20)
	be := backend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	r := newRig(t, be, rigOptions{})
	c := dial(t, r.addr)
	c.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(res.Body, make([]byte, 1<<10)); err != nil {
		t.Fatal(err)
	}
	_ = c.c.Close() // gone with ~16 MiB unread
	target := r.pool.Targets()[0]
	waitFor(t, "the exchange to end", func() bool { return target.InFlight() == 0 })
	if n := r.conns.Idle(target); n != 0 {
		t.Fatalf("%d upstream connections pooled after an unfinished body, want 0", n)
	}
	c2 := dial(t, r.addr)
	c2.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
	if res, got := c2.read("GET"); res.StatusCode != 200 || len(got) != len(body) {
		t.Fatalf("next client: %d, %d bytes", res.StatusCode, len(got))
	}
}

// Many spliced responses and cut ones do not pile up file descriptors
// (splice's pipes, upstream connections).
func TestSplicePipesDoNotLeak(t *testing.T) {
	body := bytes.Repeat([]byte("z"), 128<<10)
	be := backend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if r.URL.Path == "/cut" {
			_, _ = w.Write(body[:1000])
			panic(http.ErrAbortHandler) // the backend dies mid-body
		}
		_, _ = w.Write(body)
	})
	r := newRig(t, be, rigOptions{})
	run := func(n int) {
		for range n {
			c := dial(t, r.addr)
			c.send("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
			if res, got := c.read("GET"); res.StatusCode != 200 || len(got) != len(body) {
				t.Fatalf("ok: %d, %d bytes", res.StatusCode, len(got))
			}
			c.send("GET /cut HTTP/1.1\r\nHost: h\r\n\r\n")
			if res, err := http.ReadResponse(c.br, nil); err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
			}
			_ = c.c.Close()
		}
	}
	run(10) // warm: pipes, pooled upstream connections
	target := r.pool.Targets()[0]
	waitFor(t, "exchanges to end", func() bool { return target.InFlight() == 0 })
	before := openFDs(t)
	run(50)
	waitFor(t, "exchanges to end", func() bool { return target.InFlight() == 0 })
	deadline := time.Now().Add(testDeadline)
	for openFDs(t) > before+8 && time.Now().Before(deadline) {
		// Closed client sockets leave the table as their goroutines end.
		waitFor(t, "fds to settle", func() bool { return openFDs(t) <= before+8 })
	}
	if after := openFDs(t); after > before+8 {
		t.Fatalf("open fds grew from %d to %d over 100 spliced responses", before, after)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// A backend that answers early (413) and does not read a large upload:
// the failure is the backend's side, so the client gets the backend's
// answer, not a 400 for its body. One that keeps the connection open
// without reading is cut after the upstream idle timeout instead of
// pinning the exchange forever.
func TestSplicedUploadBackendStopsReading(t *testing.T) {
	for _, tc := range []struct {
		name   string
		linger bool // keep the connection open, reading nothing
	}{
		{"closes (reset)", false},
		{"stays open", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			addr := rawUpstream(t, func(c net.Conn) {
				_, _ = io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbig!")
				if tc.linger {
					<-done
				}
			})
			t.Cleanup(func() { close(done) })
			r := newRig(t, addr, rigOptions{timeouts: Timeouts{Idle: 300 * time.Millisecond}})
			c := dial(t, r.addr)
			const size = 32 << 20 // far more than the socket buffers hold
			go func() {
				_, _ = io.WriteString(c.c, "PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n")
				_, _ = c.c.Write(bytes.Repeat([]byte("u"), size)) // fails once the proxy closes
			}()
			res, body := c.read("PUT")
			if res.StatusCode != 413 || body != "big!" {
				t.Fatalf("got %d %q, want the backend's 413", res.StatusCode, body)
			}
		})
	}
}
