package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReloadUnderLoad: 20 reloads, alternating file edits and SIGHUP, one of
// them a broken file, while 4 keep-alive clients send requests: no request
// may fail, the broken file is refused with a positioned error, and the last
// valid change is in effect at the end.
func TestReloadUnderLoad(t *testing.T) {
	be := newRecorder(t, "be")
	cfg := func(version int) string {
		return fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
log: { access: { enabled: true, output: stdout } }
routes:
  - name: ver
    match: { path: /ver }
    respond: { body: "v%d", headers: { X-Ver: "v%d" } }
  - name: api
    match: { path: /api/* }
    middleware:
      - headers: { response: { set: { X-Ver: "v%d" } } }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, version, version, version, be.Addr())
	}
	// Broken on line 6 (an unknown key), so the error must name line 6.
	broken := fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - name: ver
    match: { path: /ver }
    respondd: { body: "broken" }
upstreams:
  be: { targets: [ "%s" ] }
`, be.Addr())
	inst := start(t, cfg(0))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		sent, failed atomic.Int64
		failMu       sync.Mutex
		failures     []string
		wg           sync.WaitGroup
	)
	stop := make(chan struct{})
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50000; i++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				path := "/ver"
				if (g+i)%2 == 1 {
					path = "/api/x"
				}
				sent.Add(1)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, inst.URL(path), nil)
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					failMu.Lock()
					if len(failures) < 10 {
						failures = append(failures, fmt.Sprintf("%s: %v", path, err))
					}
					failMu.Unlock()
				}
			}
		}()
	}

	posErr := regexp.MustCompile(`gatehouse\.yaml:6:\d+: `)
	lastValid := 0
	lastGen := -1.0
	// Steps alternate file edit (odd) and SIGHUP (even); step 10 is a broken
	// edit instead of a SIGHUP (a SIGHUP right after it would only re-read
	// the broken file), and step 11 repairs it.
	for step := 1; step <= 20; step++ {
		var e entry
		switch {
		case step == 10:
			e = inst.Rewrite(broken)
			if e.str("msg") != "config reload failed" {
				t.Fatalf("step %d: broken file: got %v, want \"config reload failed\"", step, e)
			}
			if e.str("level") != "ERROR" {
				t.Errorf("reload failure logged at level %q, want ERROR", e.str("level"))
			}
			if !posErr.MatchString(e.str("error")) {
				t.Errorf("reload failure error %q does not carry gatehouse.yaml:6:COL", e.str("error"))
			}
			// The old config keeps serving.
			if _, body, _ := get(t, newClient(t), inst.URL("/ver"), ""); body != fmt.Sprintf("v%d", lastValid) {
				t.Errorf("after the broken file /ver = %q, want v%d", body, lastValid)
			}
			continue
		case step%2 == 1:
			lastValid = step
			// Alternate atomic rename and in-place rewrite; wait for a
			// success (skipping a late duplicate outcome of the broken file).
			e = inst.RewriteOK(cfg(step), step%4 == 1)
		default:
			e = inst.ReloadSIGHUP()
		}
		if e.str("msg") != "config reloaded" {
			t.Fatalf("step %d: reload outcome %v", step, e)
		}
		gen, ok := e["generation"].(float64)
		if !ok || gen <= lastGen {
			t.Errorf("step %d: generation %v, want a number above %v", step, e["generation"], lastGen)
		}
		lastGen = gen
	}
	// One last edit so that the final state is a file change.
	lastValid = 21
	inst.RewriteOK(cfg(21), true)
	close(stop)
	wg.Wait()

	t.Logf("%d requests during 21 reloads, %d failed", sent.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed during reloads, first: %v", failed.Load(), sent.Load(), failures)
	}
	if sent.Load() < 100 {
		t.Errorf("only %d requests were sent: the load did not overlap the reloads", sent.Load())
	}
	want := fmt.Sprintf("v%d", lastValid)
	c := newClient(t)
	if !waitUntil(2*time.Second, func() bool {
		_, body, _ := get(t, c, inst.URL("/ver"), "")
		return body == want
	}) {
		_, body, _ := get(t, c, inst.URL("/ver"), "")
		t.Errorf("/ver = %q after the reloads, want %q", body, want)
	}
	if _, _, hdr := get(t, c, inst.URL("/api/x"), ""); hdr.Get("X-Ver") != want {
		t.Errorf("/api/x X-Ver = %q, want %q", hdr.Get("X-Ver"), want)
	}
	inst.Stop()
}
