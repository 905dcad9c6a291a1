package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A POST to a backend that drops the connection after reading the request
// is not retried (the backend saw it once, it may have acted on it); a GET
// is retried on the other target and succeeds.
func TestRetryPostNotRetriedGetRetried(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			dead := newRawBackend(t, func(*http.Request, io.Writer) bool { return false })
			good := newRecorder(t, "good")
			gw := start(t, upstreamConfig("first", []string{dead.Addr(), good.Addr()}, ""))
			var body io.Reader
			if method == http.MethodPost {
				body = strings.NewReader(`{"order":1}`)
			}
			req, _ := http.NewRequest(method, gw.URL("/orders"), body)
			res, err := newClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if dead.Count() != 1 {
				t.Fatalf("the dropping backend saw %d attempts, want exactly 1", dead.Count())
			}
			switch method {
			case http.MethodPost:
				if res.StatusCode != http.StatusBadGateway || good.Count() != 0 {
					t.Fatalf("POST: status %d, good backend saw %d; want 502 and no retry", res.StatusCode, good.Count())
				}
				assertErrorBody(t, string(b), res.Header, dead.Addr())
			case http.MethodGet:
				if res.StatusCode != http.StatusOK || good.Count() != 1 {
					t.Fatalf("GET: status %d body %q, good backend saw %d; want 200 from the retry", res.StatusCode, b, good.Count())
				}
				line := gw.AccessLine(res.Header.Get("X-Request-ID"))
				if line.num("tries") != 2 || line.str("target") != good.Addr() {
					t.Fatalf("access log tries=%v target=%v, want 2 and %s", line["tries"], line["target"], good.Addr())
				}
			}
		})
	}
}

// Retry budget: with every backend answering 503, the upstream attempts
// stay within requests × (1 + budget).
func TestRetryBudgetBoundsAttempts(t *testing.T) {
	var attempts atomic.Int64
	var targets []string
	for range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			attempts.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		t.Cleanup(srv.Close)
		targets = append(targets, strings.TrimPrefix(srv.URL, "http://"))
	}
	const budget = 20
	extra := fmt.Sprintf(`    retries: { attempts: 2, budget_percent: %d, min_retries_per_second: 0 }
    passive_health: { disabled: true }
`, budget)
	gw := start(t, upstreamConfig("round_robin", targets, extra))
	const n = 200
	c := newClient(t)
	for i := range n {
		res, err := c.Get(gw.URL("/"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("request %d: status %d, want the backends' 503", i, res.StatusCode)
		}
	}
	got := attempts.Load()
	limit := int64(n * (100 + budget) / 100)
	t.Logf("%d requests → %d upstream attempts (limit %d)", n, got, limit)
	if got > limit {
		t.Fatalf("%d upstream attempts for %d requests, want ≤ %d (budget %d%%)", got, n, limit, budget)
	}
	if got <= n {
		t.Fatalf("%d attempts for %d requests: no retry happened at all", got, n)
	}
}

// A per-try timeout cuts a try that waits too long for the response head
// and, with "timeout" among the conditions, retries a GET elsewhere.
func TestRetryPerTryTimeout(t *testing.T) {
	release := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // answers only when the test ends
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(stuck.Close)
	t.Cleanup(func() { close(release) })
	good := newRecorder(t, "good")
	gw := start(t, upstreamConfig("first", []string{strings.TrimPrefix(stuck.URL, "http://"), good.Addr()},
		"    retries: { per_try_timeout: 300ms, on: [connect_failure, timeout] }\n"))
	began := time.Now()
	status, body, hdr := get(t, newClient(t), gw.URL("/slow"), "")
	if status != http.StatusOK || !strings.HasPrefix(body, "good") {
		t.Fatalf("status %d body %q, want the second target's answer", status, body)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("took %v: the per-try timeout did not cut the first try", took)
	}
	if line := gw.AccessLine(hdr.Get("X-Request-ID")); line.num("tries") != 2 {
		t.Fatalf("tries = %v, want 2", line["tries"])
	}
}

// The per-try timeout bounds the wait for the response head, not the
// upload: a client streaming its body for longer than the timeout is not
// cut (nor is the target blamed).
func TestRetryPerTryTimeoutExcludesUpload(t *testing.T) {
	good := newRecorder(t, "good")
	gw := start(t, upstreamConfig("first", []string{good.Addr()},
		"    retries: { per_try_timeout: 200ms, on: [connect_failure, timeout], non_idempotent: true }\n"))
	pr, pw := io.Pipe()
	go func() {
		for range 6 {
			_, _ = pw.Write([]byte("chunk "))
			time.Sleep(100 * time.Millisecond) // a slow client, not synchronisation
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, gw.URL("/upload"), pr)
	res, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || good.Last(t).Method != http.MethodPost || len(good.Last(t).Body) != 36 {
		t.Fatalf("slow upload: %d %q; backend got %d body bytes", res.StatusCode, body, len(good.Last(t).Body))
	}
}

// A PUT with a body under max_buffered_body is buffered, so when the first
// target drops it the request is sent again, whole, to the next one — on
// both engines (the own engine reads such bodies before the first try too).
func TestRetryBufferedPUT(t *testing.T) {
	dead := newRawBackend(t, func(*http.Request, io.Writer) bool { return false })
	good := newRecorder(t, "good")
	gw := start(t, upstreamConfig("first", []string{dead.Addr(), good.Addr()}, ""))
	body := strings.Repeat("p", 20<<10)
	req, _ := http.NewRequest(http.MethodPut, gw.URL("/doc/1"), strings.NewReader(body))
	res, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || dead.Count() != 1 || good.Count() != 1 {
		t.Fatalf("PUT: status %d, dropping backend saw %d, good backend %d; want 200 after one retry", res.StatusCode, dead.Count(), good.Count())
	}
	if got := good.Last(t); string(got.Body) != body {
		t.Fatalf("the retried PUT arrived with %d body bytes, want %d", len(got.Body), len(body))
	}
}
