package reqlimit

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	settings := map[string]any{
		"max_headers":      5, // Host + up to 4 more
		"max_header_bytes": "200B",
		"max_query_params": 3,
		"max_url_bytes":    "64B",
	}
	mw, err := New(config.NewMiddlewareSpec(Name, settings), middleware.Env{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		target string
		hdr    []string
		want   int
	}{
		{"fine", "/a?x=1&y=2&z=3", []string{"Accept", "*/*", "X-A", "1"}, 200},
		{"exactly max headers", "/", []string{"A", "1", "B", "2", "C", "3", "D", "4"}, 200},
		{"one header too many", "/", []string{"A", "1", "B", "2", "C", "3", "D", "4", "E", "5"}, 431},
		{"repeated field lines count", "/", []string{"X", "1", "X", "2", "X", "3", "X", "4", "X", "5"}, 431},
		{"cookie crumbs count once", "/", []string{"Cookie", "a=1", "Cookie", "b=2", "Cookie", "c=3", "Cookie", "d=4", "Cookie", "e=5"}, 200},
		{"huge header value", "/", []string{"X-Big", strings.Repeat("a", 300)}, 431},
		{"header bytes just under", "/", []string{"X-Big", strings.Repeat("a", 200-len("X-Big")-len("Host")-len("example.com"))}, 200},
		{"header bytes one over", "/", []string{"X-Big", strings.Repeat("a", 201-len("X-Big")-len("Host")-len("example.com"))}, 431},
		{"too many params", "/a?a=1&b=2&c=3&d=4", nil, 400},
		{"empty params do not count", "/a?a=1&&&b=2&&c=3&", nil, 200},
		{"repeated params count", "/a?a&a&a&a", nil, 400},
		{"long url", "/" + strings.Repeat("p", 64), nil, 414},
		{"url exactly max", "/" + strings.Repeat("p", 63), nil, 200},
		{"long query counts in url", "/?" + strings.Repeat("q", 63), nil, 414},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reached := false
			h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			r.Header = http.Header{}
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				r.Header.Add(tt.hdr[i], tt.hdr[i+1])
			}
			r = r.WithContext(observe.WithInfo(r.Context(), &observe.RequestInfo{ID: "rid-4"}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d", w.Code, tt.want)
			}
			if reached != (tt.want == 200) {
				t.Errorf("backend reached = %v with status %d", reached, w.Code)
			}
			if tt.want != 200 && !strings.HasSuffix(w.Body.String(), "request-id: rid-4\n") {
				t.Errorf("body %q", w.Body.String())
			}
		})
	}
}

// Over a real server: the limits see what the client sent, and a refused
// request with a body closes the HTTP/1.1 connection.
func TestOverServer(t *testing.T) {
	t.Parallel()
	mw, err := New(config.NewMiddlewareSpec(Alias, map[string]any{"max_headers": 6}), middleware.Env{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()
	tests := []struct {
		name  string
		extra int
		want  int
	}{
		// Go's client sends Host, User-Agent, Content-Length, Accept-Encoding.
		{"under", 2, 200},
		{"over", 3, 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("body"))
			for i := range tt.extra {
				req.Header.Set("X-H"+string(rune('a'+i)), "v")
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want != 200 && !resp.Close {
				t.Errorf("refused request with a body kept the connection open")
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings any
		want     string
	}{
		{"nothing", map[string]any{}, "nothing to do"},
		{"negative", map[string]any{"max_headers": -1}, "max_headers"},
		{"bad size", map[string]any{"max_url_bytes": "lots"}, "max_url_bytes"},
		{"max_body is body_limit", map[string]any{"max_body": "1MB"}, "max_body"},
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

// FuzzCountParams checks countParams against splitting the query (the
// oracle url.ParseQuery uses).
func FuzzCountParams(f *testing.F) {
	for _, s := range []string{"", "a", "a=1&b=2", "&&", "a&&b&", "=&=", ";a;b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		want := 0
		for _, p := range strings.Split(q, "&") {
			if p != "" {
				want++
			}
		}
		if got := countParams(q); got != want {
			t.Fatalf("countParams(%q) = %d, want %d", q, got, want)
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	l, err := Compile(Config{MaxHeaders: 100, MaxHeaderBytes: 32 << 10, MaxQueryParams: 50, MaxURLBytes: 4096})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/users?page=2&size=50&sort=name", nil)
	for _, h := range []string{"Accept", "Accept-Encoding", "User-Agent", "Authorization", "Cookie", "X-Request-Id"} {
		r.Header.Set(h, "some value of a typical length")
	}
	b.ReportAllocs()
	for b.Loop() {
		if s, _ := l.Check(r); s != 0 {
			b.Fatal(s)
		}
	}
}
