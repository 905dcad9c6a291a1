package middleware_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// stamp is a HeadEditor that records each call on the head it edits.
type stamp struct {
	middleware.HeadWriter
	calls *atomic.Int32
}

func (s *stamp) EditHead(status int, h http.Header) {
	s.calls.Add(1)
	h.Add("X-Edit", strconv.Itoa(status))
}

// stamped serves next behind a stamp writer, as a middleware does.
func stamped(calls *atomic.Int32, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := &stamp{calls: calls}
		s.HeadWriter = middleware.NewHeadWriter(w, s)
		next(s, r)
		s.Finish()
	})
}

func TestHeadWriterEditsOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantBody   string
	}{
		{"write", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hi") }, 200, "hi"},
		{"write header", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusTeapot) // superfluous: not edited again
			io.WriteString(w, "x")
		}, 404, "x"},
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, 200, ""},
		{"flush", func(w http.ResponseWriter, _ *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
			io.WriteString(w, "after")
		}, 200, "after"},
		{"read from", func(w http.ResponseWriter, _ *http.Request) {
			if _, ok := w.(io.ReaderFrom); !ok {
				panic("no ReadFrom")
			}
			io.Copy(w, strings.NewReader("copied"))
		}, 200, "copied"},
		{"interim response unedited", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		}, 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(stamped(&calls, tt.handler))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var interim []string
			ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
				Got1xxResponse: func(_ int, h textproto.MIMEHeader) error {
					interim = append(interim, h.Values("X-Edit")...)
					return nil
				},
			})
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := strconv.Itoa(tt.wantStatus)
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if got := resp.Header.Values("X-Edit"); len(got) != 1 || got[0] != want {
				t.Errorf("X-Edit = %q, want [%s]", got, want)
			}
			if len(interim) != 0 {
				t.Errorf("interim response edited: %q", interim)
			}
		})
	}
}

// After a Hijack the head is never edited (whoever hijacks writes it), and
// http.ResponseController reaches the real writer through Unwrap.
func TestHeadWriterHijackAndController(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		stamped(&calls, func(w http.ResponseWriter, _ *http.Request) {
			rc := http.NewResponseController(w)
			if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				panic(err)
			}
			c, brw, err := rc.Hijack()
			if err != nil {
				panic(err)
			}
			defer c.Close()
			brw.WriteString("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
			brw.Flush()
		}).ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("X-Edit") != "" {
		t.Errorf("got %d %v", resp.StatusCode, resp.Header)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("handler did not return")
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("EditHead called %d times after Hijack", n)
	}
}
