package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

func TestRefuseAndWriteError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		refuse    bool // Refuse, else WriteError
		method    string
		body      string
		proto     int
		id        string
		wantClose bool
		wantBody  string
	}{
		{"refuse without body", true, http.MethodGet, "", 1, "id-1", false, "403 Forbidden\nrequest-id: id-1\n"},
		{"refuse with unread body", true, http.MethodPost, "data", 1, "id-1", true, "403 Forbidden\nrequest-id: id-1\n"},
		{"refuse on HTTP/2 never closes", true, http.MethodPost, "data", 2, "", false, "403 Forbidden\n"},
		{"write error keeps the connection", false, http.MethodPost, "data", 1, "id-2", false, "403 Forbidden\nrequest-id: id-2\n"},
		{"no body for HEAD", true, http.MethodHead, "", 1, "id-3", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tt.method, "/", strings.NewReader(tt.body))
			r.ProtoMajor = tt.proto
			r = r.WithContext(observe.WithInfo(r.Context(), &observe.RequestInfo{ID: tt.id}))
			w := httptest.NewRecorder()
			w.Header().Set("Retry-After", "1")
			if tt.refuse {
				middleware.Refuse(w, r, http.StatusForbidden)
			} else {
				middleware.WriteError(w, r, http.StatusForbidden)
			}
			if w.Code != http.StatusForbidden {
				t.Errorf("status %d", w.Code)
			}
			if got := w.Body.String(); got != tt.wantBody {
				t.Errorf("body %q, want %q", got, tt.wantBody)
			}
			h := w.Header()
			if got := h.Get("Connection") == "close"; got != tt.wantClose {
				t.Errorf("Connection: close = %v, want %v", got, tt.wantClose)
			}
			if h.Get("Retry-After") != "1" || h.Get("Cache-Control") != "no-store" ||
				h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("headers %v", h)
			}
			if tt.method == http.MethodHead && h.Get("Content-Length") == "0" {
				t.Errorf("HEAD: Content-Length %q, want a GET's", h.Get("Content-Length"))
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if id := middleware.RequestID(r); id != "" {
		t.Errorf("without RequestInfo: %q", id)
	}
	r = r.WithContext(observe.WithInfo(r.Context(), &observe.RequestInfo{ID: "abc"}))
	if id := middleware.RequestID(r); id != "abc" {
		t.Errorf("got %q", id)
	}
}
