package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// procBackend is a backend that is a real process: the gatehouse binary
// itself with one respond route answering its name. It can be killed
// (SIGKILL, no goodbye) and started again on the same address.
type procBackend struct {
	t    *testing.T
	name string
	addr string
	inst *instance
}

func startProcBackend(t *testing.T, name, addr string) *procBackend {
	t.Helper()
	b := &procBackend{t: t, name: name, addr: addr}
	b.Start()
	return b
}

// Start runs the backend process on its address.
func (b *procBackend) Start() {
	b.t.Helper()
	b.inst = start(b.t, fmt.Sprintf(`
listeners:
  - address: %q
log:
  access: { enabled: false }
routes:
  - respond: { status: 200, body: %q }
`, b.addr, b.name))
}

// Kill stops the process with SIGKILL and waits for it to be gone.
func (b *procBackend) Kill() {
	b.t.Helper()
	_ = b.inst.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-b.inst.done:
	case <-time.After(stopTimeout):
		b.t.Fatalf("backend %s did not die", b.name)
	}
}

// loadGen sends GETs from a few workers until stopped, counting answers
// by body (the backend's name) and every failure.
type loadGen struct {
	mu       sync.Mutex
	byBody   map[string]int
	failures []string
	total    atomic.Int64
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

func startLoad(t *testing.T, url string, workers int) *loadGen {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g := &loadGen{byBody: map[string]int{}, cancel: cancel}
	c := newClient(t)
	for range workers {
		g.wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				res, err := c.Do(req)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					g.fail(err.Error())
					continue
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				switch {
				case err != nil:
					g.fail("body: " + err.Error())
				case res.StatusCode != http.StatusOK:
					g.fail(fmt.Sprintf("status %d: %s", res.StatusCode, body))
				default:
					g.mu.Lock()
					g.byBody[string(body)]++
					g.mu.Unlock()
				}
				g.total.Add(1)
			}
		})
	}
	t.Cleanup(g.Stop)
	return g
}

func (g *loadGen) fail(s string) {
	g.mu.Lock()
	g.failures = append(g.failures, s)
	g.mu.Unlock()
}

// Stop ends the load and waits for the workers.
func (g *loadGen) Stop() {
	g.cancel()
	g.wg.Wait()
}

// Failures returns the failures so far.
func (g *loadGen) Failures() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.failures...)
}

// waitTotal waits until the generator has completed n more requests.
func (g *loadGen) waitMore(t *testing.T, n int64) {
	t.Helper()
	want := g.total.Load() + n
	if !waitUntil(20*time.Second, func() bool { return g.total.Load() >= want }) {
		t.Fatalf("load generator stalled at %d requests (want %d)", g.total.Load(), want)
	}
}

// accessSince returns the access-log entries logged at or after mark.
func accessSince(inst *instance, mark int) []entry {
	lines := inst.Stdout.Lines()
	var out []entry
	for i := mark; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == "" {
			continue
		}
		out = append(out, parseEntry(lines[i]))
	}
	return out
}

// sendN sends n sequential GETs with an optional header per request and
// returns the response bodies.
func sendN(t *testing.T, url string, n int, hdr func(i int) (string, string)) []string {
	t.Helper()
	c := newClient(t)
	out := make([]string, n)
	for i := range n {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if hdr != nil {
			k, v := hdr(i)
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d, err %v, body %q", i, res.StatusCode, err, b)
		}
		out[i] = string(b)
	}
	return out
}

// sendParallel sends n GETs from workers goroutines and returns the bodies
// (in no particular order). hdr may set one header per request index.
func sendParallel(t *testing.T, url string, n, workers int, hdr func(i int) (string, string)) []string {
	t.Helper()
	c := newClient(t)
	out := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				if hdr != nil {
					k, v := hdr(i)
					req.Header.Set(k, v)
				}
				res, err := c.Do(req)
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d", res.StatusCode))
				}
				out[i] = string(b)
			}
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		t.Fatalf("parallel load: %v", e)
	}
	return out
}
