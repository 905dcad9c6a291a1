package proxy

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestThousandConcurrentClients: the default pool settings carry 1,000
// clients at once (every request in flight together at the backend), with
// no error and no dial storm beyond one connection per concurrent request.
func TestThousandConcurrentClients(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections")
	}
	const n = 1000
	var arrived atomic.Int64
	release := make(chan struct{})
	all := make(chan struct{})
	_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == n {
			close(all)
		}
		<-release
		io.WriteString(w, "ok")
	})
	// Every request waits at the backend until all n have arrived, which
	// can take seconds on a loaded 2-core machine under -race: the
	// response-header bound must exceed the test's own 20 s deadline, or
	// early requests would time out while the last ones connect.
	to := testTimeouts()
	to.ResponseHeader = 30 * time.Second
	f := newFront(t, Options{Pool: pool, Timeouts: to})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range n {
		wg.Go(func() {
			res, err := client.Get(f.URL)
			if err != nil {
				failed.Add(1)
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(b) != "ok" {
				failed.Add(1)
			}
		})
	}
	go func() {
		select { // bounded: a stuck request still releases the others
		case <-all:
		case <-time.After(20 * time.Second):
		}
		close(release)
	}()
	wg.Wait()
	if failed.Load() != 0 || arrived.Load() != n {
		t.Fatalf("%d failed, %d arrived", failed.Load(), arrived.Load())
	}
	for range n {
		f.nextInfo(t)
	}
}
