package runtime

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Requests served by net/http (here HTTP/2 ones on a route with
// middleware) without a body or with a small one go to a plain HTTP/1.1
// upstream through the own engine's client, whose pool then holds the
// connection; with max_conns_per_target set, or with a large body, they
// stay on net/http's Transport.
func TestNetHTTPPathUsesTheEngineClient(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer backend.Close()
	addr := backend.Listener.Addr().String()
	for _, tc := range []struct {
		name     string
		upstream string
		method   string
		body     string
		direct   bool
	}{
		{"GET over HTTP/2", "{targets: [\"" + addr + "\"]}", "GET", "", true},
		{"DELETE without a body", "{targets: [\"" + addr + "\"]}", "DELETE", "", true},
		{"POST with a small body", "{targets: [\"" + addr + "\"]}", "POST", "x", true},
		{"POST with a large body", "{targets: [\"" + addr + "\"]}", "POST", strings.Repeat("x", 100<<10), false},
		{"max_conns_per_target set", "{targets: [\"" + addr + "\"], max_conns_per_target: 4}", "GET", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, "listeners: [{address: \"127.0.0.1:0\"}]\nroutes: [{upstream: b, middleware: [{headers: {response: {set: {X-Mw: \"1\"}}}}]}]\nupstreams: {b: "+tc.upstream+"}\n")
			rt, err := Build(cfg, nil, Options{Logger: discard(), DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			h := NewHolder(rt)
			r := httptest.NewRequest(tc.method, "http://front.example/x", nil)
			if tc.body != "" {
				r = httptest.NewRequest(tc.method, "http://front.example/x", strings.NewReader(tc.body))
			}
			r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 || w.Body.String() != "ok" || w.Header().Get("X-Mw") != "1" {
				t.Fatalf("got %d %q %v", w.Code, w.Body.String(), w.Header())
			}
			pool := rt.pools["b"]
			v, err := rt.state.view().Shared("connpool|"+pool.Identity(), func() (any, error) { return nil, nil })
			var idle int
			if cp, ok := v.(*connPoolCloser); ok && err == nil {
				idle = cp.pool.Idle(pool.Targets()[0])
			}
			if (idle == 1) != tc.direct {
				t.Fatalf("engine pool holds %d idle connections; want the engine client used = %v", idle, tc.direct)
			}
		})
	}
}
