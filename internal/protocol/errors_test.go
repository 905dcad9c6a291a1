package protocol

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// closedPort returns a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serveRaw starts a TCP server on 127.0.0.1 that runs handle on each
// connection; it stops with the test.
func serveRaw(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends one GET through a fresh transport and returns its error.
func roundTrip(t *testing.T, ctx context.Context, tr *http.Transport, addr string) error {
	t.Helper()
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.RoundTrip(req)
	if err == nil {
		res.Body.Close()
		t.Fatal("round trip succeeded, want an error")
	}
	return err
}

func TestStatusFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  func(t *testing.T) error
		want int
	}{
		{"nil", func(*testing.T) error { return nil }, 0},
		{"no target", func(*testing.T) error { return fmt.Errorf("pool api: %w", ErrNoTarget) }, 503},
		{"overloaded", func(*testing.T) error { return fmt.Errorf("target x: %w", ErrOverloaded) }, 503},
		{"response header timeout sentinel", func(*testing.T) error { return fmt.Errorf("x: %w", ErrResponseHeaderTimeout) }, 504},
		{"idle timeout sentinel", func(*testing.T) error { return ErrIdleTimeout }, 504},
		{"total timeout sentinel", func(*testing.T) error { return fmt.Errorf("a: %w", fmt.Errorf("b: %w", ErrTotalTimeout)) }, 504},
		{"plain error", func(*testing.T) error { return errors.New("boom") }, 502},
		{"connection refused (real dial)", func(t *testing.T) error {
			_, err := net.Dial("tcp", closedPort(t))
			return err
		}, 502},
		{"connect sentinel wrapping refused", func(t *testing.T) error {
			_, err := net.Dial("tcp", closedPort(t))
			return fmt.Errorf("%w: %w", ErrUpstreamConnect, err)
		}, 502},
		{"transport to closed port", func(t *testing.T) error {
			return roundTrip(t, context.Background(), &http.Transport{}, closedPort(t))
		}, 502},
		{"EOF before response", func(t *testing.T) error {
			addr := serveRaw(t, func(c net.Conn) {
				buf := make([]byte, 4096)
				c.Read(buf)
				c.Close()
			})
			return roundTrip(t, context.Background(), &http.Transport{}, addr)
		}, 502},
		{"connection reset", func(t *testing.T) error {
			addr := serveRaw(t, func(c net.Conn) {
				buf := make([]byte, 4096)
				c.Read(buf)
				c.(*net.TCPConn).SetLinger(0) // close sends RST
				c.Close()
			})
			return roundTrip(t, context.Background(), &http.Transport{}, addr)
		}, 502},
		{"malformed response", func(t *testing.T) error {
			addr := serveRaw(t, func(c net.Conn) {
				buf := make([]byte, 4096)
				c.Read(buf)
				io.WriteString(c, "HTTP/1.1 abc nope\r\n\r\n")
				c.Close()
			})
			return roundTrip(t, context.Background(), &http.Transport{}, addr)
		}, 502},
		{"transport response header timeout", func(t *testing.T) error {
			addr := serveRaw(t, func(c net.Conn) {
				io.Copy(io.Discard, c) // read, never answer, until closed
			})
			return roundTrip(t, context.Background(), &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}, addr)
		}, 504},
		{"context deadline", func(t *testing.T) error {
			addr := serveRaw(t, func(c net.Conn) { io.Copy(io.Discard, c) })
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			return roundTrip(t, ctx, &http.Transport{}, addr)
		}, 504},
		{"read deadline (net.Error timeout)", func(t *testing.T) error {
			addr := serveRaw(t, func(c net.Conn) { io.Copy(io.Discard, c) })
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			_, err = c.Read(make([]byte, 1))
			return fmt.Errorf("reading response: %w", err)
		}, 504},
		{"client went away (cancelled)", func(t *testing.T) error {
			addr := serveRaw(t, func(c net.Conn) { io.Copy(io.Discard, c) })
			ctx, cancel := context.WithCancel(context.Background())
			tr := &http.Transport{}
			errc := make(chan error, 1)
			go func() { errc <- roundTrip(t, ctx, tr, addr) }()
			cancel()
			return <-errc
		}, 499},
		{"DNS failure", func(t *testing.T) error {
			dead := closedPort(t)
			r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", dead)
			}}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := r.LookupHost(ctx, "backend.example.internal")
			var dnsErr *net.DNSError
			if !errors.As(err, &dnsErr) {
				t.Fatalf("want *net.DNSError, got %T %v", err, err)
			}
			return fmt.Errorf("%w: %w", ErrUpstreamConnect, err)
		}, 502},
		{"dial timeout wrapped in connect sentinel", func(t *testing.T) error {
			d := net.Dialer{Timeout: time.Nanosecond}
			_, err := d.Dial("tcp", closedPort(t))
			if err == nil {
				t.Skip("dial succeeded")
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Skipf("dial did not time out: %v", err)
			}
			return fmt.Errorf("%w: %w", ErrUpstreamConnect, err)
		}, 504},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.err(t)
			if got := StatusFor(err); got != tt.want {
				t.Errorf("StatusFor(%v) = %d, want %d", err, got, tt.want)
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code int
		want string
	}{
		{499, "Client Closed Request"},
		{502, "Bad Gateway"},
		{503, "Service Unavailable"},
		{504, "Gateway Timeout"},
		{799, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			t.Parallel()
			if got := StatusText(tt.code); got != tt.want {
				t.Errorf("StatusText(%d) = %q, want %q", tt.code, got, tt.want)
			}
		})
	}
}

func TestErrorBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		id     string
		want   string
	}{
		{"with id", 502, "abc-123", "502 Bad Gateway\nrequest-id: abc-123\n"},
		{"503", 503, "x", "503 Service Unavailable\nrequest-id: x\n"},
		{"no id", 504, "", "504 Gateway Timeout\n"},
		{"forged id dropped", 502, "a\r\nX-Evil: 1", "502 Bad Gateway\n"},
		{"unknown code", 799, "id", "799\nrequest-id: id\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(ErrorBody(tt.status, tt.id)); got != tt.want {
				t.Errorf("ErrorBody = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestErrorBodyLeaksNothing checks that a real transport error's text and
// the backend address never appear in the body.
func TestErrorBodyLeaksNothing(t *testing.T) {
	t.Parallel()
	addr := closedPort(t)
	err := roundTrip(t, context.Background(), &http.Transport{}, addr)
	body := string(ErrorBody(StatusFor(err), NewRequestID()))
	host, port, _ := net.SplitHostPort(addr)
	for _, leak := range []string{host, port, "refused", "dial", err.Error()} {
		if strings.Contains(body, leak) {
			t.Errorf("body %q contains %q", body, leak)
		}
	}
}

func TestSetErrorHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{"Retry-After": {"1"}, "Content-Type": {"text/html"}}
	body := ErrorBody(429, "id-1")
	SetErrorHeaders(h, body)
	want := map[string]string{
		"Content-Type":           "text/plain; charset=utf-8",
		"Content-Length":         fmt.Sprint(len(body)),
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Retry-After":            "1", // kept
	}
	for name, v := range want {
		if got := h.Values(name); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want [%q]", name, got, v)
		}
	}
}
