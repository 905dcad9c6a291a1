package demo

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testTimeout bounds every test's network work.
const testTimeout = 10 * time.Second

// startBackends starts the demo backends for one test and stops them when
// it ends, checking that Close returns in bounded time.
func startBackends(t *testing.T) *Backends {
	t.Helper()
	b, err := Start(t.Context(), nil)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- b.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Close: %v", err)
			}
		case <-time.After(testTimeout):
			t.Errorf("Close did not return within %v", testTimeout)
		}
	})
	return b
}

// testClient returns a client with its own transport (never the default
// one) and a bound on each exchange.
func testClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: testTimeout}
}

// do sends one request and returns the response with its whole body.
func do(t *testing.T, c *http.Client, method, url, body string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of %s %s: %v", method, url, err)
	}
	return resp, string(b)
}
