package demo

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestApp(t *testing.T) {
	b := startBackends(t)
	c := testClient(t)
	tests := []struct {
		name       string
		addr       string
		method     string
		path       string
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{"app-1 page", b.App1, http.MethodGet, "/", 200, "text/html", "app-1"},
		{"app-2 page", b.App2, http.MethodGet, "/", 200, "text/html", "app-2"},
		{"app-1 hello", b.App1, http.MethodGet, "/api/hello", 200, "application/json", `"instance": "app-1"`},
		{"app-2 hello", b.App2, http.MethodGet, "/api/hello", 200, "application/json", `"instance": "app-2"`},
		{"not found", b.App1, http.MethodGet, "/nope", 404, "application/json", "not found"},
		{"post refused", b.App1, http.MethodPost, "/", 405, "text/plain", "method not allowed"},
		{"post hello refused", b.App2, http.MethodPost, "/api/hello", 405, "text/plain", "method not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, c, tt.method, "http://"+tt.addr+tt.path, "")
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", resp.StatusCode, tt.wantStatus, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
				t.Errorf("Content-Type = %q, want %s", ct, tt.wantType)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body %q does not contain %q", body, tt.wantBody)
			}
			if tt.wantStatus == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestAppHelloEchoesHeaders(t *testing.T) {
	b := startBackends(t)
	c := testClient(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+b.App1+"/api/hello?x=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Add("X-Demo-Client", "a")
	req.Header.Add("X-Demo-Client", "b")
	req.Host = "demo.localhost"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got helloResponse
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	want := map[string]string{
		"instance": "app-1", "path": "/api/hello", "host": "demo.localhost", "method": "GET",
		"X-Forwarded-For": "203.0.113.7", "X-Demo-Client": "a, b",
	}
	gotFields := map[string]string{
		"instance": got.Instance, "path": got.Path, "host": got.Host, "method": got.Method,
		"X-Forwarded-For": got.Headers["X-Forwarded-For"], "X-Demo-Client": got.Headers["X-Demo-Client"],
	}
	for k, v := range want {
		if gotFields[k] != v {
			t.Errorf("%s = %q, want %q", k, gotFields[k], v)
		}
	}
}
