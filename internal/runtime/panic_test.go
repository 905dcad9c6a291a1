package runtime

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log destination safe to read while requests log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A panic in a route's chain is a bug: it is logged at error level with the
// request ID and answered with Gatehouse's own 500 (no panic text), or, if
// the response had started, the connection is cut. http.ErrAbortHandler
// keeps its meaning: the connection is cut, nothing is logged as a bug.
func TestPanicInChain(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantCode  int  // 0: the client sees the connection fail
		wantError bool // an error-level record with the request ID
	}{
		{
			name: "panic before the response",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "9999")
				panic("secret internals")
			},
			wantCode:  http.StatusInternalServerError,
			wantError: true,
		},
		{
			name: "panic mid-response",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				_, _ = io.WriteString(w, "partial")
				http.NewResponseController(w).Flush()
				panic(errors.New("boom"))
			},
			wantError: true,
		},
		{
			name: "abort handler",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				_, _ = io.WriteString(w, "partial")
				http.NewResponseController(w).Flush()
				panic(http.ErrAbortHandler)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			logger := slog.New(slog.NewTextHandler(logs, nil))
			cfg := mustParse(t, "listeners: [{address: \"127.0.0.1:0\"}]\nroutes: [{respond: {body: x}}]\n")
			rt, err := Build(cfg, nil, Options{Logger: logger, DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			rt.routes[0].handler = tc.handler // the chain under test
			front := httptest.NewUnstartedServer(NewHolder(rt))
			front.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelDebug)
			front.Start()
			defer front.Close()
			client := &http.Client{Timeout: 10 * time.Second}
			resp, err := client.Get(front.URL + "/")
			code := 0
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					code = resp.StatusCode
				}
			}
			if code != tc.wantCode {
				t.Fatalf("status %d (err %v), want %d", code, err, tc.wantCode)
			}
			if strings.Contains(string(body), "secret") {
				t.Errorf("panic text reached the client: %q", body)
			}
			if code != 0 && resp.Header.Get("X-Request-Id") == "" {
				t.Error("error response without the request ID")
			}
			logged := strings.Contains(logs.String(), "level=ERROR") && strings.Contains(logs.String(), "request_id=")
			if logged != tc.wantError {
				t.Errorf("error record logged = %v, want %v; log:\n%s", logged, tc.wantError, logs.String())
			}
		})
	}
}
