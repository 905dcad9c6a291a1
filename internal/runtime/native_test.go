package runtime

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/engine"
)

// Requests the native engine answers itself must not leave the runtime
// pinned: a retired runtime drains only when every request dispatched on
// it is done, and a reload waits for that. An unknown expectation is
// answered 417 by the engine; it used to be dispatched first, so the
// handler that releases the pin never ran and the old runtime never
// drained.
func TestNativeAnswersDoNotPinTheRuntime(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	cfg := mustParse(t, "listeners: [{address: \"127.0.0.1:0\"}]\nroutes: [{upstream: b}]\nupstreams: {b: {targets: [\""+backend.Listener.Addr().String()+"\"]}}\n")
	tests := []struct {
		name, raw string
		status    int
	}{
		{"proxied", "GET /x HTTP/1.1\r\nHost: h\r\n\r\n", 200},
		{"unknown expectation", "GET /x HTTP/1.1\r\nHost: h\r\nExpect: tea\r\n\r\n", 417},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt1, err := Build(cfg, nil, Options{Logger: discard(), DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			h := NewHolder(rt1)
			srv, err := engine.NewServer(engine.Config{Dispatch: h.Dispatch, HeaderTimeout: 5 * time.Second, Logger: discard()})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			rt2, err := Build(mustParse(t, "listeners: [{address: \"127.0.0.1:0\"}]\nroutes: [{respond: {body: new}}]\n"), rt1, Options{Logger: discard(), DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			defer rt2.Close()
			h.Swap(rt2)
			select {
			case <-rt1.drained:
			case <-time.After(5 * time.Second):
				t.Fatal("the old runtime did not drain: the request left it pinned")
			}
		})
	}
}
