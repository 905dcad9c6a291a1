package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

const sigTERM = syscall.SIGTERM

// newSlowBackend answers /slow only after release is closed; it signals
// arrived when the request reached it. Returns host:port.
func newSlowBackend(t *testing.T, arrived chan<- struct{}, release <-chan struct{}) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "slow done")
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func dialQuick(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, 500*time.Millisecond)
}

// TestGracefulShutdown: SIGTERM lets an in-flight request finish, refuses
// new connections and exits 0 within shutdown_timeout.
func TestGracefulShutdown(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	var releaseOnce bool
	be := newSlowBackend(t, arrived, release)
	defer func() {
		if !releaseOnce {
			close(release)
		}
	}()
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
server: { shutdown_timeout: 10s }
routes:
  - match: { path: /slow }
    upstream: slow
upstreams:
  slow: { targets: [ "%s" ] }
`, be))

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	c := newClient(t)
	go func() {
		resp, err := c.Get(inst.URL("/slow"))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, err = b.ReadFrom(resp.Body)
		done <- result{status: resp.StatusCode, body: b.String(), err: err}
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached the backend")
	}

	mark := inst.Stderr.Len()
	began := time.Now()
	inst.Signal(sigTERM)
	inst.WaitLog(mark, "shutting down")
	if !waitUntil(3*time.Second, func() bool {
		conn, err := dialQuick(inst.Addr)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	}) {
		t.Errorf("new connections still accepted 3s after SIGTERM")
	}
	select {
	case <-inst.done:
		t.Fatalf("gatehouse exited before the in-flight request finished: %v", inst.waitErr)
	default:
	}
	releaseOnce = true
	close(release)
	select {
	case r := <-done:
		if r.err != nil || r.status != http.StatusOK || r.body != "slow done" {
			t.Errorf("in-flight request: %d %q %v, want 200 \"slow done\"", r.status, r.body, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight request did not complete")
	}
	inst.WaitExit(10 * time.Second)
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("exit %v after SIGTERM, want within shutdown_timeout 10s", d)
	}
	inst.WaitLog(mark, "stopped")
}
