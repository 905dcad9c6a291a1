package demo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestWebSocketEcho(t *testing.T) {
	b := startBackends(t)
	tests := []struct {
		name string
		path string
		typ  websocket.MessageType
		msg  string
	}{
		{"text at /", "/", websocket.MessageText, "hello"},
		{"binary at /", "/", websocket.MessageBinary, "\x00\x01\x02"},
		{"text at /ws", "/ws", websocket.MessageText, "über"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			conn, _, err := websocket.Dial(ctx, "ws://"+b.WebSocket+tt.path, &websocket.DialOptions{
				HTTPClient: testClient(t),
			})
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.CloseNow()
			for i := range 3 {
				if err := conn.Write(ctx, tt.typ, []byte(tt.msg)); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
				typ, got, err := conn.Read(ctx)
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				if typ != tt.typ || string(got) != tt.msg {
					t.Fatalf("echo %d = %v %q, want %v %q", i, typ, got, tt.typ, tt.msg)
				}
			}
			if err := conn.Close(websocket.StatusNormalClosure, ""); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}

func TestWebSocketPage(t *testing.T) {
	b := startBackends(t)
	c := testClient(t)
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantBody           string
	}{
		{"page", http.MethodGet, "/", 200, "new WebSocket("},
		{"POST refused", http.MethodPost, "/", 405, "method not allowed"},
		{"unknown path", http.MethodGet, "/x", 404, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, c, tt.method, "http://"+b.WebSocket+tt.path, "")
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("status %d body %q, want %d containing %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// TestWebSocketEndsOnClose checks that Close does not hang on an open
// (hijacked) connection and that the client sees it end.
func TestWebSocketEndsOnClose(t *testing.T) {
	b, err := Start(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+b.WebSocket+"/", &websocket.DialOptions{HTTPClient: testClient(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	// One round trip proves the handler is running before Close.
	if err := conn.Write(ctx, websocket.MessageText, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.Read(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > backendShutdownTimeout/2 {
		t.Errorf("Close took %v with a WebSocket open", d)
	}
	if _, _, err := conn.Read(ctx); err == nil {
		t.Error("read after Close succeeded")
	}
}

func TestIsUpgrade(t *testing.T) {
	tests := []struct {
		name       string
		connection []string
		upgrade    string
		want       bool
	}{
		{"plain", nil, "", false},
		{"websocket", []string{"Upgrade"}, "websocket", true},
		{"list", []string{"keep-alive, upgrade"}, "WebSocket", true},
		{"two fields", []string{"keep-alive", "Upgrade"}, "websocket", true},
		{"other protocol", []string{"Upgrade"}, "h2c", false},
		{"no connection token", []string{"keep-alive"}, "websocket", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tt.connection {
				r.Header.Add("Connection", v)
			}
			if tt.upgrade != "" {
				r.Header.Set("Upgrade", tt.upgrade)
			}
			if got := isUpgrade(r); got != tt.want {
				t.Errorf("isUpgrade = %v, want %v", got, tt.want)
			}
		})
	}
}
