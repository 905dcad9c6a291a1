package headers

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
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
	withInfo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &observe.RequestInfo{ID: "rid-7", ClientIP: netip.MustParseAddr("198.51.100.4"), Scheme: "http"}
		mw(h).ServeHTTP(w, r.WithContext(observe.WithInfo(r.Context(), info)))
	})
	return withInfo
}

func TestRequestEdits(t *testing.T) {
	t.Parallel()
	settings := map[string]any{"request": map[string]any{
		"set":    map[string]any{"X-A": "v", "x-req": "req-{request_id}", "Host": "internal.example"},
		"add":    map[string]any{"X-B": "{client_ip}", "X-Q": "{query.q}"},
		"remove": []any{"X-Debug"},
	}}
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(build(t, settings, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
	})))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/?q=a%0D%0AInjected:%20x", nil)
	req.Header.Set("X-A", "old")
	req.Header.Add("X-B", "first")
	req.Header.Set("X-Debug", "1")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := <-got
	checks := []struct{ name, want string }{
		{"X-A", "v"},
		{"X-Req", "req-rid-7"},
		{"X-B", "first,198.51.100.4"},
		{"X-Debug", ""},
		{"X-Q", "a  Injected: x"},
	}
	for _, c := range checks {
		if v := strings.Join(r.Header.Values(c.name), ","); v != c.want {
			t.Errorf("%s = %q, want %q", c.name, v, c.want)
		}
	}
	if r.Host != "internal.example" {
		t.Errorf("Host = %q, want internal.example", r.Host)
	}
}

func TestResponseEdits(t *testing.T) {
	t.Parallel()
	settings := map[string]any{"response": map[string]any{
		"set":    map[string]any{"X-Served-By": "gatehouse"},
		"add":    map[string]any{"X-Id": "{request_id}"},
		"remove": []any{"Server"},
	}}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
	}{
		{"write header", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "backend/1.0")
			w.WriteHeader(http.StatusCreated)
		}, http.StatusCreated},
		{"write only", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "backend/1.0")
			io.WriteString(w, "hi")
		}, http.StatusOK},
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "backend/1.0")
		}, http.StatusOK},
		{"read from", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "backend/1.0")
			w.(io.ReaderFrom).ReadFrom(strings.NewReader("body"))
		}, http.StatusOK},
		{"flush first", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "backend/1.0")
			w.(http.Flusher).Flush()
		}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(build(t, settings, tt.handler))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if v := resp.Header.Get("X-Served-By"); v != "gatehouse" {
				t.Errorf("X-Served-By = %q", v)
			}
			if v := resp.Header.Get("X-Id"); v != "rid-7" {
				t.Errorf("X-Id = %q", v)
			}
			if v := resp.Header.Get("Server"); v != "" {
				t.Errorf("Server = %q, want removed", v)
			}
		})
	}
}

// Interim responses are not edited; the final one is (RFC 9110 section 15.2).
func TestInformationalNotEdited(t *testing.T) {
	t.Parallel()
	settings := map[string]any{"response": map[string]any{"set": map[string]any{"X-Served-By": "gatehouse"}}}
	srv := httptest.NewServer(build(t, settings, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusOK)
	})))
	defer srv.Close()
	var interim textproto.MIMEHeader
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		interim = h
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if interim == nil || interim.Get("Link") == "" || interim.Get("X-Served-By") != "" {
		t.Errorf("103 headers = %v, want Link and no X-Served-By", interim)
	}
	if resp.Header.Get("X-Served-By") != "gatehouse" {
		t.Errorf("final response not edited: %v", resp.Header)
	}
}

// An SSE stream behind the middleware still delivers each event as it is
// flushed: the client reads event 1 before the handler writes event 2.
func TestStreamingFlushes(t *testing.T) {
	t.Parallel()
	settings := map[string]any{"response": map[string]any{"set": map[string]any{"X-Served-By": "gatehouse"}}}
	next := make(chan struct{})
	srv := httptest.NewServer(build(t, settings, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range 3 {
			io.WriteString(w, "data: event"+string(rune('1'+i))+"\n\n")
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
	if resp.Header.Get("X-Served-By") != "gatehouse" {
		t.Errorf("stream head not edited")
	}
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event %d: %v", i+1, err)
		}
		if want := "data: event" + string(rune('1'+i)) + "\n"; line != want {
			t.Fatalf("got %q, want %q", line, want)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
}

// A WebSocket handler behind the middleware can hijack the connection, and
// http.ResponseController reaches the real writer through Unwrap.
func TestUpgradeAndController(t *testing.T) {
	t.Parallel()
	settings := map[string]any{"response": map[string]any{"set": map[string]any{"X-Served-By": "gatehouse"}}}
	srv := httptest.NewServer(build(t, settings, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deadline" {
			if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				http.Error(w, "no deadline", http.StatusInternalServerError)
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
	_, msg, err := c.Read(ctx)
	if err != nil || string(msg) != "ping" {
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
		{"content-length", map[string]any{"response": map[string]any{"set": map[string]any{"Content-Length": "1"}}}, "Content-Length"},
		{"transfer-encoding", map[string]any{"request": map[string]any{"remove": []any{"transfer-encoding"}}}, "Transfer-Encoding"},
		{"connection", map[string]any{"request": map[string]any{"add": map[string]any{"Connection": "close"}}}, "hop-by-hop"},
		{"host removed", map[string]any{"request": map[string]any{"remove": []any{"Host"}}}, "Host"},
		{"host added", map[string]any{"request": map[string]any{"add": map[string]any{"Host": "x"}}}, "use set"},
		{"host in response", map[string]any{"response": map[string]any{"set": map[string]any{"Host": "x"}}}, "request header"},
		{"bad name", map[string]any{"request": map[string]any{"set": map[string]any{"X A": "x"}}}, "not a valid header name"},
		{"bad placeholder", map[string]any{"request": map[string]any{"set": map[string]any{"X-A": "{nope}"}}}, "unknown placeholder"},
		{"newline", map[string]any{"request": map[string]any{"set": map[string]any{"X-A": "a\nb"}}}, "CR, LF"},
		{"unknown key", map[string]any{"requests": map[string]any{}}, "requests"},
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

func BenchmarkHeaders(b *testing.B) {
	mw, err := New(config.NewMiddlewareSpec(Name, map[string]any{
		"request":  map[string]any{"set": map[string]any{"X-Req": "req-{request_id}"}},
		"response": map[string]any{"set": map[string]any{"X-Served-By": "gatehouse"}, "remove": []any{"Server"}},
	}), middleware.Env{})
	if err != nil {
		b.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r = r.WithContext(observe.WithInfo(r.Context(), &observe.RequestInfo{ID: "abc"}))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
