package waf

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestSSEStreamsEventByEvent: with and without response inspection, each
// event reaches the client while the backend is still holding the stream
// open (it sends the next event only after the client saw the previous).
func TestSSEStreamsEventByEvent(t *testing.T) {
	t.Parallel()
	for _, inspect := range []bool{false, true} {
		t.Run(fmt.Sprintf("response_body=%v", inspect), func(t *testing.T) {
			t.Parallel()
			seen := make(chan struct{})
			g := newGateway(t, map[string]any{"response_body": inspect}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(200)
				rc := http.NewResponseController(w)
				for i := range 3 {
					fmt.Fprintf(w, "data: event %d\n\n", i)
					if err := rc.Flush(); err != nil {
						return
					}
					select {
					case <-seen:
					case <-r.Context().Done():
						return
					case <-time.After(10 * time.Second):
						return // the test fails on its side
					}
				}
			})
			req, _ := http.NewRequest("GET", g.front.URL+"/events", nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			for i := range 3 {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if want := fmt.Sprintf("data: event %d\n", i); line != want {
					t.Fatalf("got %q, want %q", line, want)
				}
				br.ReadString('\n')
				seen <- struct{}{}
			}
		})
	}
}

// TestWebSocketThroughWAF: an upgrade passes the request phases and then
// runs as a raw stream: the writer is never wrapped, so Hijack works.
func TestWebSocketThroughWAF(t *testing.T) {
	t.Parallel()
	g := newGateway(t, map[string]any{"response_body": true}, func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, append([]byte("echo "), msg...)); err != nil {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.front.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	for _, m := range []string{"one", "two"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != "echo "+m {
			t.Fatalf("got %q, %v", got, err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// TestResponseBodyInspection: a response leaking an SQL error is refused
// with Gatehouse's 403 and none of the backend's headers; other types and
// clean pages pass whole, including ones longer than the limit.
func TestResponseBodyInspection(t *testing.T) {
	t.Parallel()
	leak := "<html>You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version</html>"
	big := strings.Repeat("<p>fine</p>", 10000)
	g := newGateway(t, map[string]any{"response_body": map[string]any{"inspect": true, "limit": "16KB"}},
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Backend-Secret", "s")
			switch r.URL.Path {
			case "/leak":
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, leak)
			case "/leak.bin":
				w.Header().Set("Content-Type", "application/octet-stream")
				io.WriteString(w, leak)
			case "/big":
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, big)
			default:
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html>hello</html>")
			}
		})
	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/leak", 403, "403 Forbidden\nrequest-id: rid-1\n"},
		{"/leak.bin", 200, leak}, // type not inspected
		{"/big", 200, big},       // over the limit: prefix inspected, rest streams
		{"/page", 200, "<html>hello</html>"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := client().Get(g.front.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || string(b) != tc.body {
				t.Fatalf("got %d %.80q, want %d %.80q", resp.StatusCode, b, tc.status, tc.body)
			}
			if tc.status == 403 && resp.Header.Get("X-Backend-Secret") != "" {
				t.Errorf("refused response carries the backend's headers")
			}
		})
	}
}

// BenchmarkCleanGET is the per-request cost of the full CRS on a clean GET
// with browser-like headers (no body), the waf alone in front of a no-op
// handler.
func BenchmarkCleanGET(b *testing.B) {
	mw := build(b, nil, nil)
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	req := httptest.NewRequest("GET", "http://shop.example.com/products/42?sort=price&page=2", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	req.Header.Set("Accept-Language", "en-US,en;q=0.5")
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	req.Header.Set("Cookie", "session=abc123; theme=dark")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 204 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkJSONBody: a 2 KB JSON POST (40 fields) with body inspection.
func BenchmarkJSONBody(b *testing.B) {
	mw := build(b, nil, nil)
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(204)
	}))
	var sb strings.Builder
	sb.WriteString("{")
	for i := range 40 {
		fmt.Fprintf(&sb, `"field%d": "value number %d",`, i, i)
	}
	sb.WriteString(`"end": true}`)
	body := sb.String()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "http://api.example.com/v1/items", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "client/1.0")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 204 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
