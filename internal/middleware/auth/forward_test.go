package auth

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// authService is a real auth service: it decides on the Authorization it
// receives and records the request.
type authService struct {
	srv  *httptest.Server
	mu   sync.Mutex
	last http.Header
}

func newAuthService(t *testing.T) *authService {
	t.Helper()
	a := &authService{}
	release := make(chan struct{})
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.last = r.Header.Clone()
		a.last.Set("X-Seen-Method", r.Method)
		a.mu.Unlock()
		switch r.Header.Get("Authorization") {
		case "Bearer good":
			w.Header().Set("X-User-Id", "u-1")
			w.Header().Add("X-Groups", "a")
			w.Header().Add("X-Groups", "b")
			w.Header().Set("X-Internal", "not copied")
			io.WriteString(w, "ok")
		case "Bearer forbidden":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Internal", "not relayed")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"error":"nope"}`)
		case "Bearer login":
			w.Header().Set("Location", "https://login.test/?rd=x")
			w.Header().Set("Set-Cookie", "state=1; HttpOnly")
			w.WriteHeader(http.StatusFound)
		case "Bearer huge":
			w.WriteHeader(http.StatusUnauthorized)
			w.Write(make([]byte, maxRelayedBody+10))
		case "Bearer broken":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "stack trace at 10.1.2.3")
		case "Bearer slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="sso"`)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "login required")
		}
	}))
	t.Cleanup(func() { close(release); a.srv.Close() })
	return a
}

func (a *authService) Last() http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func TestForward(t *testing.T) {
	t.Parallel()
	svc := newAuthService(t)
	h, be := build(t, map[string]any{"forward": map[string]any{
		"url":                   svc.srv.URL + "/check?x=1",
		"copy_response_headers": []string{"X-User-Id", "X-Groups"},
		"identity_from":         "X-User-Id",
		"timeout":               "300ms",
	}}, testEnv(newClock().Now))

	tests := []struct {
		name     string
		auth     string
		status   int
		body     string // "" to skip
		header   map[string]string
		noHeader []string
	}{
		{"allowed", "Bearer good", 200, "backend", nil, nil},
		{"unauthorized relayed", "Bearer bad", 401, "login required", map[string]string{"WWW-Authenticate": `Bearer realm="sso"`}, nil},
		{"no credentials", "", 401, "login required", nil, nil},
		{"forbidden relayed", "Bearer forbidden", 403, `{"error":"nope"}`, map[string]string{"Content-Type": "application/json"}, []string{"X-Internal"}},
		{"login redirect relayed", "Bearer login", 302, "", map[string]string{"Location": "https://login.test/?rd=x", "Set-Cookie": "state=1; HttpOnly"}, nil},
		{"huge denial body replaced", "Bearer huge", 401, "401 Unauthorized\n", nil, nil},
		{"auth service 500", "Bearer broken", 503, "503 Service Unavailable\n", nil, nil},
		{"auth service timeout", "Bearer slow", 503, "503 Service Unavailable\n", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := be.Calls()
			hdr := []string{"X-User-Id", "forged", "Cookie", "sid=1", "X-Forwarded-For", "6.6.6.6", "Connection", "X-Hop", "X-Hop", "1"}
			if tc.auth != "" {
				hdr = append(hdr, "Authorization", tc.auth)
			}
			rec := do(h, "/app/x?y=2", hdr...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.body != "" && rec.Body.String() != tc.body {
				t.Errorf("body %q, want %q", rec.Body.String(), tc.body)
			}
			for k, v := range tc.header {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tc.noHeader {
				if got := rec.Header().Get(k); got != "" {
					t.Errorf("%s relayed: %q", k, got)
				}
			}
			if strings.Contains(rec.Body.String(), "127.0.0.1") || strings.Contains(rec.Body.String(), "10.1.2.3") {
				t.Errorf("body leaks an address: %q", rec.Body.String())
			}
			if tc.status != 200 {
				if be.Calls() != before {
					t.Fatal("a refused request reached the backend")
				}
				return
			}
			r, id := be.Last()
			if id == nil || id.Method != MethodForward || id.Name != "u-1" {
				t.Fatalf("identity %+v", id)
			}
			if got := r.Header.Values("X-User-Id"); len(got) != 1 || got[0] != "u-1" {
				t.Errorf("X-User-Id upstream %q", got)
			}
			if got := r.Header.Values("X-Groups"); len(got) != 2 {
				t.Errorf("X-Groups upstream %q", got)
			}
			if r.Header.Get("X-Internal") != "" || r.Header.Get("Authorization") != "" {
				t.Errorf("upstream got X-Internal or Authorization: %q", r.Header)
			}
			if r.Header.Get("Cookie") != "sid=1" {
				t.Errorf("Cookie not kept for the backend")
			}
			seen := svc.Last()
			want := map[string]string{
				"X-Seen-Method": "GET", "X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/app/x?y=2",
				"X-Forwarded-Host": "example.com", "X-Forwarded-Proto": "http", "X-Forwarded-For": "192.0.2.1",
				"Cookie": "sid=1", "Authorization": "Bearer good",
			}
			for k, v := range want {
				if got := seen.Get(k); got != v {
					t.Errorf("auth service saw %s = %q, want %q", k, got, v)
				}
			}
			if seen.Get("X-Hop") != "" {
				t.Errorf("Connection-listed X-Hop sent to the auth service")
			}
		})
	}
}

// TestForwardUsesRequestInfo: the client IP, scheme and request ID come
// from the runtime's RequestInfo (trusted-proxy handling already done).
func TestForwardUsesRequestInfo(t *testing.T) {
	t.Parallel()
	svc := newAuthService(t)
	h, _ := build(t, map[string]any{"forward": map[string]any{
		"url": svc.srv.URL, "copy_request_headers": []string{"Authorization"},
	}}, testEnv(newClock().Now))
	req := httptest.NewRequest(http.MethodPost, "/p", strings.NewReader("body"))
	req.Header.Set("Authorization", "Bearer good")
	req.Header.Set("Cookie", "not-copied=1")
	info := &observe.RequestInfo{ID: "req-1", ClientIP: netip.MustParseAddr("2001:db8::1"), Scheme: "https"}
	ctx, cancel := context.WithCancel(observe.WithInfo(req.Context(), info))
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(ctx))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	seen := svc.Last()
	for k, v := range map[string]string{"X-Forwarded-For": "2001:db8::1", "X-Forwarded-Proto": "https", "X-Request-Id": "req-1", "X-Forwarded-Method": "POST", "Cookie": ""} {
		if got := seen.Get(k); got != v {
			t.Errorf("auth service saw %s = %q, want %q", k, got, v)
		}
	}
}

func TestForwardUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	h, be := build(t, map[string]any{"forward": map[string]any{"url": addr}}, testEnv(newClock().Now))
	rec := do(h, "/")
	if rec.Code != 503 || strings.Contains(rec.Body.String(), strings.TrimPrefix(addr, "http://")) || be.Calls() != 0 {
		t.Fatalf("got %d %q (backend calls %d)", rec.Code, rec.Body.String(), be.Calls())
	}
}

func TestForwardConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fwd  map[string]any
		want string
	}{
		{"no url", map[string]any{}, "url"},
		{"bad scheme", map[string]any{"url": "unix:///tmp/x"}, "url"},
		{"copy Host", map[string]any{"url": "http://a", "copy_request_headers": []string{"Host"}}, "Host"},
		{"copy X-Forwarded-For", map[string]any{"url": "http://a", "copy_request_headers": []string{"X-Forwarded-For"}}, "never copied"},
		{"set Content-Length", map[string]any{"url": "http://a", "copy_response_headers": []string{"Content-Length"}}, "Content-Length"},
		{"bad identity_from", map[string]any{"url": "http://a", "identity_from": "a b"}, "identity_from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(config.NewMiddlewareSpec(Name, map[string]any{"forward": tc.fwd}), testEnv(newClock().Now))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
