package bodylimit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

const mb = 1 << 20

// gateway is a body_limit in front of a reverse proxy to a real upstream
// that counts the body bytes it receives. The proxy maps ErrTooLarge to
// 413, as internal/proxy must.
type gateway struct {
	front    *httptest.Server
	received atomic.Int64
	done     chan struct{} // one value per finished upstream request
}

func newGateway(t *testing.T, settings any) *gateway {
	t.Helper()
	g := &gateway{done: make(chan struct{}, 4)}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { g.done <- struct{}{} }()
		n, _ := io.Copy(io.Discard, r.Body)
		g.received.Add(n)
		fmt.Fprintf(w, "got %d", n)
	}))
	t.Cleanup(upstream.Close)
	u, _ := url.Parse(upstream.URL)
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport: upstream.Client().Transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, ErrTooLarge) {
				TooLarge(w, r)
				return
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	mw, err := New(config.NewMiddlewareSpec(Name, settings), middleware.Env{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g.front = httptest.NewServer(mw(proxy))
	t.Cleanup(g.front.Close)
	return g
}

// sendChunked writes a chunked upload of size bytes on a raw connection and
// returns the response; write errors after the server answered are
// expected and ignored.
func sendChunked(t *testing.T, addr string, size int) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		bw := bufio.NewWriter(conn)
		fmt.Fprintf(bw, "POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n")
		chunk := bytes.Repeat([]byte("x"), 32*1024)
		for sent := 0; sent < size; sent += len(chunk) {
			fmt.Fprintf(bw, "%x\r\n", len(chunk))
			bw.Write(chunk)
			if _, err := bw.WriteString("\r\n"); err != nil {
				return
			}
		}
		bw.WriteString("0\r\n\r\n")
		bw.Flush()
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return resp
}

func TestChunkedOverLimit(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "1MB")
	resp := sendChunked(t, g.front.Listener.Addr().String(), 5*mb)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d (%q), want 413", resp.StatusCode, body)
	}
	if want := string(protocol.ErrorBody(http.StatusRequestEntityTooLarge, "")); string(body) != want {
		t.Errorf("body %q", body)
	}
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		t.Fatal("upstream request never ended")
	}
	if got := g.received.Load(); got > mb {
		t.Errorf("upstream received %d bytes, more than the 1MB limit", got)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		settings    any
		body        io.Reader
		length      int64 // -1: chunked
		status      int
		upstreamHit bool
	}{
		{"content-length over", map[string]any{"max": "1KB"}, strings.NewReader(strings.Repeat("a", 2048)), 2048, 413, false},
		{"content-length at limit", map[string]any{"max": "1KB"}, strings.NewReader(strings.Repeat("a", 1024)), 1024, 200, true},
		{"chunked at limit", "1KB", strings.NewReader(strings.Repeat("a", 1024)), -1, 200, true},
		{"chunked under", "1KB", strings.NewReader("small"), -1, 200, true},
		{"no body", "1KB", nil, 0, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, tt.settings)
			body := tt.body
			if tt.length < 0 {
				body = io.MultiReader(body) // hide the length: chunked
			}
			req, _ := http.NewRequest(http.MethodPost, g.front.URL, body)
			if tt.length >= 0 {
				req.ContentLength = tt.length
			}
			resp, err := g.front.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			hit := false
			select {
			case <-g.done:
				hit = true
			default:
			}
			if hit != tt.upstreamHit {
				t.Errorf("upstream reached = %v, want %v", hit, tt.upstreamHit)
			}
		})
	}
}

func TestLimitedBodyReads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		size    int
		max     int64
		wantN   int64
		wantErr bool
	}{
		{"under", 10, 11, 10, false},
		{"exact", 11, 11, 11, false},
		{"one over", 12, 11, 11, true},
		{"far over", 5000, 100, 100, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := &limitedBody{rc: io.NopCloser(strings.NewReader(strings.Repeat("z", tt.size))), left: tt.max,
				err: fmt.Errorf("%w (limit %d bytes)", ErrTooLarge, tt.max)}
			n, err := io.Copy(io.Discard, b)
			if n != tt.wantN || errors.Is(err, ErrTooLarge) != tt.wantErr {
				t.Errorf("read %d, %v; want %d, error %v", n, err, tt.wantN, tt.wantErr)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		spec     string
		settings any
		wantErr  string
	}{
		{"short form", Name, "10MB", ""},
		{"mapping", Name, map[string]any{"max": "512KB"}, ""},
		{"alias", Alias, "1MB", ""},
		{"zero", Name, map[string]any{"max": "0"}, "greater than 0"},
		{"missing", Name, map[string]any{}, "greater than 0"},
		{"bad size", Name, "ten megs", "size"},
		{"unknown key", Name, map[string]any{"limit": "1MB"}, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, ok := middleware.Lookup(tt.spec)
			if !ok {
				t.Fatalf("%q not registered", tt.spec)
			}
			_, err := c(config.NewMiddlewareSpec(tt.spec, tt.settings), middleware.Env{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var list config.ErrorList
			if !errors.As(err, &list) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want a config.ErrorList mentioning %q", err, tt.wantErr)
			}
		})
	}
}
