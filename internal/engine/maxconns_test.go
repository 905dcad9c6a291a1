package engine

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// max_conns_per_target on the own engine: no more connections to a
// target than allowed; a request needing one more waits for a release,
// and fails with 503 when none comes within its connect timeout.
func TestMaxConnsPerTarget(t *testing.T) {
	var open, peak atomic.Int64
	release := make(chan struct{})
	be := backend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			n := open.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-release
			open.Add(-1)
		}
		_, _ = w.Write([]byte("ok"))
	})
	r := newRig(t, be, rigOptions{maxConns: 2, timeouts: Timeouts{Connect: 300 * time.Millisecond}})

	// Two requests take both connections and are held.
	var wg sync.WaitGroup
	for range 2 {
		c := dial(t, r.addr)
		wg.Go(func() {
			c.send("GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
			if res, body := c.read("GET"); res.StatusCode != 200 || body != "ok" {
				t.Errorf("held request: %d %q", res.StatusCode, body)
			}
		})
	}
	waitFor(t, "two held requests", func() bool { return open.Load() == 2 })

	// A third finds no slot within its connect timeout: 503, not a third
	// connection.
	c3 := dial(t, r.addr)
	c3.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
	if res, _ := c3.read("GET"); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third request with both connections busy: %d, want 503", res.StatusCode)
	}

	// A fourth waits, and gets the first connection released.
	c4 := dial(t, r.addr)
	done := make(chan int, 1)
	go func() {
		c4.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
		res, _ := c4.read("GET")
		done <- res.StatusCode
	}()
	close(release)
	if st := <-done; st != 200 {
		t.Fatalf("waiting request: %d, want 200 once a connection was free", st)
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Fatalf("backend saw %d concurrent requests, max_conns_per_target is 2", p)
	}
}
