package hide

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

func build(t testing.TB, settings any, h http.Handler) http.Handler {
	t.Helper()
	mw, err := New(config.NewMiddlewareSpec(Name, settings), middleware.Env{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	inner := mw(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r.WithContext(observe.WithInfo(r.Context(), &observe.RequestInfo{ID: "rid-3"})))
	})
}

// leaky is a backend that sends every identifying header there is.
func leaky(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, n := range DefaultHeaders {
			w.Header().Set(n, "leak")
		}
		w.Header().Set("Via", "1.1 varnish")
		w.Header().Set("X-App", "kept")
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestHeadersRemoved(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings any
		gone     []string
		kept     []string
	}{
		{"defaults", nil, DefaultHeaders, []string{"Via", "X-App"}},
		{"defaults, empty map", map[string]any{}, DefaultHeaders, []string{"Via", "X-App"}},
		{"defaults plus via", map[string]any{"add": []any{"via"}}, append([]string{"Via"}, DefaultHeaders...), []string{"X-App"}},
		{"replaced list", map[string]any{"headers": []any{"x-app"}}, []string{"X-App"}, []string{"Server", "X-Powered-By", "Via"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(build(t, tt.settings, leaky(200, "page")))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "page" {
				t.Errorf("body %q", body)
			}
			for _, n := range tt.gone {
				if v := resp.Header.Get(n); v != "" {
					t.Errorf("%s = %q, want removed", n, v)
				}
			}
			for _, n := range tt.kept {
				if resp.Header.Get(n) == "" {
					t.Errorf("%s removed, want kept", n)
				}
			}
		})
	}
}

func TestErrorPages(t *testing.T) {
	t.Parallel()
	on := map[string]any{"error_pages": true}
	tests := []struct {
		name     string
		settings any
		method   string
		handler  http.HandlerFunc
		status   int
		body     string
	}{
		{"500 replaced", on, "GET", leaky(500, "<h1>Traceback: db at 10.0.0.5 failed</h1>"), 500, "500 Internal Server Error\nrequest-id: rid-3\n"},
		{"503 replaced, status kept", on, "GET", leaky(503, "maintenance by nginx/1.2"), 503, "503 Service Unavailable\nrequest-id: rid-3\n"},
		{"head: no body", on, "HEAD", leaky(502, "x"), 502, ""},
		{"404 untouched", on, "GET", leaky(404, "backend 404 page"), 404, "backend 404 page"},
		{"200 untouched", on, "GET", leaky(200, "fine"), 200, "fine"},
		{"5xx without error_pages untouched", nil, "GET", leaky(500, "trace"), 500, "trace"},
		{"5xx via ReadFrom", on, "GET", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			w.(io.ReaderFrom).ReadFrom(strings.NewReader(strings.Repeat("stack ", 10000)))
		}, 500, "500 Internal Server Error\nrequest-id: rid-3\n"},
		{"5xx with encoding and length", on, "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", "4")
			w.WriteHeader(500)
			w.Write([]byte("\x1f\x8b\x08\x00"))
		}, 500, "500 Internal Server Error\nrequest-id: rid-3\n"},
		{"5xx flushed in pieces", on, "GET", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			for range 3 {
				io.WriteString(w, "secret chunk ")
				w.(http.Flusher).Flush()
			}
		}, 500, "500 Internal Server Error\nrequest-id: rid-3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(build(t, tt.settings, tt.handler))
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("body: %v", err)
			}
			if resp.StatusCode != tt.status || string(body) != tt.body {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
			if tt.status >= 500 && tt.settings != nil {
				if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				for _, n := range []string{"Etag", "Content-Encoding", "Server"} {
					if v := resp.Header.Get(n); v != "" {
						t.Errorf("%s = %q on a replaced page", n, v)
					}
				}
				if strings.Contains(tt.name, "replaced") && resp.Header.Get("Retry-After") != "5" {
					t.Errorf("Retry-After lost")
				}
				if resp.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
				}
			}
		})
	}
}

// An SSE stream behind the middleware (error_pages on) still delivers each
// event as it is flushed, with the head edited.
func TestStreaming(t *testing.T) {
	t.Parallel()
	next := make(chan struct{})
	srv := httptest.NewServer(build(t, map[string]any{"error_pages": true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Server", "sse-backend")
		rc := http.NewResponseController(w)
		for i := range 3 {
			io.WriteString(w, "data: e"+string(rune('1'+i))+"\n\n")
			if err := rc.Flush(); err != nil {
				t.Errorf("flush: %v", err)
				return
			}
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Server") != "" {
		t.Errorf("stream head not edited")
	}
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != "data: e"+string(rune('1'+i))+"\n" {
			t.Fatalf("event %d: %q %v", i+1, line, err)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
}

// A WebSocket handler behind the middleware can hijack the connection, and
// http.ResponseController reaches the real writer through Unwrap.
func TestUpgradeAndController(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(build(t, map[string]any{"error_pages": true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deadline" {
			if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				w.WriteHeader(http.StatusTeapot)
			}
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		c.Write(r.Context(), typ, msg)
		c.Close(websocket.StatusNormalClosure, "")
	})))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "ping" {
		t.Fatalf("echo = %q, %v", msg, err)
	}
	resp, err := srv.Client().Get(srv.URL + "/deadline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("SetWriteDeadline through the wrapper failed: %d", resp.StatusCode)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings any
		want     string
	}{
		{"bad name", map[string]any{"add": []any{"X Bad"}}, "add[0]"},
		{"framing", map[string]any{"headers": []any{"Content-Length"}}, "framing"},
		{"hop-by-hop", map[string]any{"add": []any{"connection"}}, "hop-by-hop"},
		{"nothing", map[string]any{"headers": []any{}}, "nothing to do"},
		{"unknown key", map[string]any{"error_page": true}, "error_page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(config.NewMiddlewareSpec(Name, tt.settings), middleware.Env{})
			if err == nil {
				t.Fatal("New succeeded")
			}
			var list config.ErrorList
			if !errors.As(err, &list) {
				t.Errorf("error %T is not a config.ErrorList", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// An empty headers list with error_pages is valid: only pages are replaced.
func TestErrorPagesOnly(t *testing.T) {
	t.Parallel()
	h := build(t, map[string]any{"headers": []any{}, "error_pages": true}, leaky(500, "trace"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Header().Get("Server") != "leak" || !strings.HasPrefix(w.Body.String(), "500 Internal") {
		t.Errorf("headers %v body %q", w.Header(), w.Body.String())
	}
}

func BenchmarkHide(b *testing.B) {
	h := build(b, map[string]any{"error_pages": true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "x")
		w.WriteHeader(http.StatusNoContent)
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
