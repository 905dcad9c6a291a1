package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestHopByHopHeaders: headers named in Connection, and the fixed hop-by-hop
// set, are removed in both directions (RFC 9110 §7.6.1).
func TestHopByHopHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen http.Header
	be := newRawBackend(t, func(req *http.Request, w io.Writer) bool {
		mu.Lock()
		seen = req.Header.Clone()
		mu.Unlock()
		io.WriteString(w, "HTTP/1.1 200 OK\r\n"+
			"Connection: X-Back-Secret\r\n"+
			"X-Back-Secret: s3cret\r\n"+
			"Keep-Alive: timeout=5\r\n"+
			"X-Back-Public: visible\r\n"+
			"Content-Length: 2\r\n\r\nok")
		return true
	})
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /* }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, be.Addr()))

	resp, body, err := rawExchange(inst.Addr, "GET /h HTTP/1.1\r\nHost: hop.test\r\n"+
		"Connection: X-Foo, keep-alive\r\nX-Foo: secret\r\nKeep-Alive: 300\r\nX-Kept: yes\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("got %d %q, want 200 ok", resp.StatusCode, body)
	}
	mu.Lock()
	got := seen
	mu.Unlock()
	if got == nil {
		t.Fatal("backend saw no request")
	}
	if v := got.Get("X-Foo"); v != "" {
		t.Errorf("backend received Connection-listed X-Foo: %q", v)
	}
	if v := got.Get("Keep-Alive"); v != "" {
		t.Errorf("backend received Keep-Alive: %q", v)
	}
	if v := got.Get("Connection"); strings.Contains(strings.ToLower(v), "x-foo") {
		t.Errorf("backend received Connection: %q", v)
	}
	if got.Get("X-Kept") != "yes" {
		t.Errorf("end-to-end header X-Kept lost")
	}
	if v := resp.Header.Get("X-Back-Secret"); v != "" {
		t.Errorf("client received the backend's Connection-listed X-Back-Secret: %q", v)
	}
	if v := resp.Header.Get("Keep-Alive"); v != "" {
		t.Errorf("client received the backend's Keep-Alive: %q", v)
	}
	if resp.Header.Get("X-Back-Public") != "visible" {
		t.Errorf("end-to-end response header X-Back-Public lost")
	}
}

// TestForwardingHeaders: X-Forwarded-* and X-Request-ID from a trusted peer
// are kept (XFF appended to), from anyone else replaced; Host is preserved
// by default and can be turned off per route.
func TestForwardingHeaders(t *testing.T) {
	be := newRecorder(t, "be")
	cfg := func(trusted string) string {
		return fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
server: { trusted_proxies: %s }
routes:
  - name: no-preserve
    match: { path: /np/* }
    preserve_host: false
    upstream: be
  - name: placeholders
    match: { path: /ph/* }
    middleware:
      - headers:
          request: { set: { X-Client: "{client_ip}" } }
          response: { set: { X-Echo-ID: "{request_id}" } }
    upstream: be
  - match: { path: /* }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, trusted, be.Addr())
	}
	untrusted := start(t, cfg("[]"))
	trusted := start(t, cfg(`[ "127.0.0.1/32" ]`))
	c := newClient(t)
	spoof := []string{
		"X-Forwarded-For", "203.0.113.7",
		"X-Request-ID", "client-id-123",
		"X-Forwarded-Proto", "https",
		"X-Forwarded-Host", "evil.test",
	}

	t.Run("untrusted peer", func(t *testing.T) {
		status, _, hdr := get(t, c, untrusted.URL("/f"), "app.test", spoof...)
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		got := be.Last(t)
		if v := got.Header.Get("X-Forwarded-For"); v != "127.0.0.1" {
			t.Errorf("X-Forwarded-For = %q, want 127.0.0.1 (spoofed value dropped)", v)
		}
		if v := got.Header.Get("X-Forwarded-Proto"); v != "http" {
			t.Errorf("X-Forwarded-Proto = %q, want http", v)
		}
		if v := got.Header.Get("X-Forwarded-Host"); v != "app.test" {
			t.Errorf("X-Forwarded-Host = %q, want app.test", v)
		}
		id := got.Header.Get("X-Request-ID")
		if id == "" || id == "client-id-123" {
			t.Errorf("upstream X-Request-ID = %q, want a generated ID replacing the client's", id)
		}
		if hdr.Get("X-Request-ID") != id {
			t.Errorf("response X-Request-ID = %q, upstream got %q; want the same", hdr.Get("X-Request-ID"), id)
		}
		if got.Host != "app.test" {
			t.Errorf("upstream Host = %q, want app.test (preserved by default)", got.Host)
		}
	})

	t.Run("trusted peer", func(t *testing.T) {
		status, _, hdr := get(t, c, trusted.URL("/f"), "app.test", spoof...)
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		got := be.Last(t)
		if v := got.Header.Get("X-Forwarded-For"); v != "203.0.113.7, 127.0.0.1" {
			t.Errorf("X-Forwarded-For = %q, want %q", v, "203.0.113.7, 127.0.0.1")
		}
		if v := got.Header.Get("X-Request-ID"); v != "client-id-123" {
			t.Errorf("upstream X-Request-ID = %q, want the trusted client's client-id-123", v)
		}
		if v := hdr.Get("X-Request-ID"); v != "client-id-123" {
			t.Errorf("response X-Request-ID = %q, want client-id-123", v)
		}
		if got.Header.Get("X-Forwarded-Proto") == "" || got.Header.Get("X-Forwarded-Host") == "" {
			t.Errorf("X-Forwarded-Proto/Host missing: %q / %q", got.Header.Get("X-Forwarded-Proto"), got.Header.Get("X-Forwarded-Host"))
		}
	})

	t.Run("generated when absent", func(t *testing.T) {
		_, _, hdr1 := get(t, c, untrusted.URL("/f"), "")
		id1 := be.Last(t).Header.Get("X-Request-ID")
		_, _, hdr2 := get(t, c, untrusted.URL("/f"), "")
		id2 := be.Last(t).Header.Get("X-Request-ID")
		if id1 == "" || id1 == id2 {
			t.Errorf("generated IDs %q, %q: want non-empty and distinct", id1, id2)
		}
		if hdr1.Get("X-Request-ID") != id1 || hdr2.Get("X-Request-ID") != id2 {
			t.Errorf("response IDs %q, %q differ from upstream's %q, %q", hdr1.Get("X-Request-ID"), hdr2.Get("X-Request-ID"), id1, id2)
		}
	})

	t.Run("preserve_host false", func(t *testing.T) {
		get(t, c, untrusted.URL("/np/x"), "app.test")
		if got := be.Last(t).Host; got != be.Addr() {
			t.Errorf("upstream Host = %q, want the target %q", got, be.Addr())
		}
	})

	t.Run("header placeholders", func(t *testing.T) {
		_, _, hdr := get(t, c, untrusted.URL("/ph/x"), "")
		if got := be.Last(t).Header.Get("X-Client"); got != "127.0.0.1" {
			t.Errorf("{client_ip} = %q, want 127.0.0.1", got)
		}
		if id := hdr.Get("X-Request-ID"); id == "" || hdr.Get("X-Echo-ID") != id {
			t.Errorf("{request_id} = %q, want the request ID %q", hdr.Get("X-Echo-ID"), id)
		}
	})
}

// TestAccessLog: one JSON line per request on stdout with the documented
// fields.
func TestAccessLog(t *testing.T) {
	be := newRecorder(t, "be")
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
log: { access: { enabled: true, output: stdout } }
routes:
  - name: api-route
    match: { path: /api/* }
    upstream: api
upstreams:
  api: { targets: [ "%s" ] }
`, be.Addr()))
	c := newClient(t)
	req, _ := http.NewRequest(http.MethodPost, inst.URL("/api/items?x=1"), strings.NewReader("hello world"))
	req.Host = "log.test"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	id := resp.Header.Get("X-Request-ID")
	e := inst.AccessLine(id)
	for _, f := range []string{"time", "request_id", "client_ip", "method", "host", "path", "status",
		"bytes_in", "bytes_out", "duration_ms", "upstream_ms", "route", "upstream", "target"} {
		if _, ok := e[f]; !ok {
			t.Errorf("access log line lacks %q: %v", f, e)
		}
	}
	want := map[string]string{
		"client_ip": "127.0.0.1",
		"method":    "POST",
		"host":      "log.test",
		"status":    "200",
		"route":     "api-route",
		"upstream":  "api",
		"target":    be.Addr(),
		"bytes_in":  "11",
		"bytes_out": fmt.Sprint(len(body)),
	}
	for k, v := range want {
		if got := e.str(k); got != v {
			t.Errorf("access log %s = %q, want %q", k, got, v)
		}
	}
	if p := e.str("path"); !strings.HasPrefix(p, "/api/items") {
		t.Errorf("access log path = %q, want /api/items...", p)
	}
	if d, ok := e["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms = %v, want a non-negative number", e["duration_ms"])
	}
	if u, ok := e["upstream_ms"].(float64); !ok || u < 0 {
		t.Errorf("upstream_ms = %v, want a non-negative number", e["upstream_ms"])
	}
}
