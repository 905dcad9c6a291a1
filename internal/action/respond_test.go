package action

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func TestRespond(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        config.Respond
		method     string
		status     int
		body       string
		ctype      string
		length     string
		wantHeader [2]string
	}{
		{"defaults", config.Respond{Body: "ok\n"}, "GET", 200, "ok\n", "text/plain; charset=utf-8", "3", [2]string{}},
		{"head", config.Respond{Body: "ok\n"}, "HEAD", 200, "", "text/plain; charset=utf-8", "3", [2]string{}},
		{"status and type", config.Respond{Status: 503, Body: `{"down":true}`, Headers: map[string]string{"content-type": "application/json", "Retry-After": "120"}},
			"GET", 503, `{"down":true}`, "application/json", "13", [2]string{"Retry-After", "120"}},
		{"no body no type", config.Respond{Status: 204}, "GET", 204, "", "", "", [2]string{}},
		{"placeholder header", config.Respond{Headers: map[string]string{"X-Echo": "{method} {query.a}"}}, "GET", 200, "", "", "0", [2]string{"X-Echo", "GET 1 2"}},
		{"value sanitised", config.Respond{Headers: map[string]string{"X-Q": "{query.b}"}}, "GET", 200, "", "", "0", [2]string{"X-Q", "x  y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := NewRespond(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+"/?a=1+2&b=x%0D%0Ay", nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || string(body) != tt.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", ct, tt.ctype)
			}
			if cl := resp.Header.Get("Content-Length"); cl != tt.length {
				t.Errorf("Content-Length = %q, want %q", cl, tt.length)
			}
			if tt.wantHeader[0] != "" && resp.Header.Get(tt.wantHeader[0]) != tt.wantHeader[1] {
				t.Errorf("%s = %q, want %q", tt.wantHeader[0], resp.Header.Get(tt.wantHeader[0]), tt.wantHeader[1])
			}
		})
	}
}

func TestRespondErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  config.Respond
	}{
		{"1xx", config.Respond{Status: 103}},
		{"too big", config.Respond{Status: 600}},
		{"body on 204", config.Respond{Status: 204, Body: "x"}},
		{"body on 304", config.Respond{Status: 304, Body: "x"}},
		{"content-length", config.Respond{Headers: map[string]string{"Content-Length": "3"}}},
		{"transfer-encoding", config.Respond{Headers: map[string]string{"transfer-encoding": "chunked"}}},
		{"bad name", config.Respond{Headers: map[string]string{"X Y": "z"}}},
		{"bad template", config.Respond{Headers: map[string]string{"X-Y": "{nope}"}}},
		{"newline", config.Respond{Headers: map[string]string{"X-Y": "a\nb"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewRespond(tt.cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("error = %v, want ErrConfig", err)
			}
		})
	}
}

func BenchmarkRespond(b *testing.B) {
	h, err := NewRespond(config.Respond{Body: "ok\n", Headers: map[string]string{"X-Served-By": "gatehouse"}})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}
