package listen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// minRateServer runs net/http behind GuardListener and MinDataRateListener,
// as Manager.open wires them, on 127.0.0.1.
func minRateServer(t *testing.T, rate config.Size, window time.Duration, srv *http.Server) string {
	t.Helper()
	raw := listenLocal(t)
	ln, err := MinDataRateListener(GuardListener(raw, protocol.FramingLimits{}),
		config.MinDataRate{BytesPerSecond: rate, Window: config.Duration(window)})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Handler == nil {
		srv.Handler = minRateHandler()
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return raw.Addr().String()
}

// minRateHandler: /upload reads the whole body and answers its length after
// an optional pause (?pause=ms, a slow backend); /stream writes ten chunks
// 150ms apart; /ws upgrades and echoes; anything else answers "ok".
func minRateHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		if ms, _ := strconv.Atoi(r.URL.Query().Get("pause")); ms > 0 {
			<-time.After(time.Duration(ms) * time.Millisecond) // the backend is slow: nobody reads
		}
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, "cut", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for i := range 10 {
			fmt.Fprintf(w, "chunk %d\n", i)
			_ = rc.Flush()
			<-time.After(150 * time.Millisecond)
		}
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(c, brw)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	return mux
}

func dialT(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, limitTestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// trickle writes prefix, then rest one byte per gap, until rest ends or a
// write fails; it runs on its own goroutine.
func trickle(c net.Conn, prefix, rest string, gap time.Duration) {
	go func() {
		if _, err := io.WriteString(c, prefix); err != nil {
			return
		}
		tk := time.NewTicker(gap)
		defer tk.Stop()
		for i := range len(rest) {
			<-tk.C
			if _, err := io.WriteString(c, rest[i:i+1]); err != nil {
				return
			}
		}
	}()
}

// closedWithin waits for the server to close c and returns how long it took.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", limit)
	}
	return time.Since(start)
}

func TestMinDataRateCutsSlowloris(t *testing.T) {
	t.Parallel()
	const window = 500 * time.Millisecond
	cases := []struct {
		name, prefix, rest string
	}{
		{"slow head", "GET / HTTP/1.1\r\n", "Host: x\r\nX-Slow: " + strings.Repeat("a", 100) + "\r\n\r\n"},
		{"stalled body", "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789", ""},
		{"slow body", "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", strings.Repeat("b", 100)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// net/http's own head deadline is far away: the cut is ours.
			addr := minRateServer(t, 1000, window, &http.Server{ReadHeaderTimeout: 30 * time.Second})
			c := dialT(t, addr)
			trickle(c, tc.prefix, tc.rest, 100*time.Millisecond) // 10 B/s against a floor of 1000
			if d := closedWithin(t, c, 8*window); d < window*8/10 {
				t.Fatalf("cut after %v, before the %v window", d, window)
			}
		})
	}
}

func TestMinDataRateSteadyUploadNotCut(t *testing.T) {
	t.Parallel()
	const window = 300 * time.Millisecond
	addr := minRateServer(t, 8<<10, window, &http.Server{ReadHeaderTimeout: 30 * time.Second})
	c := dialT(t, addr)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	const size = 96 << 10 // at 48 KiB/s: 2s, about 7 windows, 6x the floor
	go func() {
		_, _ = fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		chunk := bytes.Repeat([]byte("u"), 2400)
		for sent := 0; sent < size; sent += len(chunk) {
			<-tk.C
			if _, err := c.Write(chunk[:min(len(chunk), size-sent)]); err != nil {
				return
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("steady upload cut: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != strconv.Itoa(size) {
		t.Fatalf("got %d %q, want 200 %d", resp.StatusCode, body, size)
	}
}

// Time when nobody reads (a slow backend), idle keep-alive time, and time
// spent writing a streamed response are not the client's fault.
func TestMinDataRateIgnoresServerSideTime(t *testing.T) {
	t.Parallel()
	const window = 300 * time.Millisecond
	addr := minRateServer(t, 1000, window, &http.Server{ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second})
	c := dialT(t, addr)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	roundTrip := func(req, wantBody string) {
		t.Helper()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || (wantBody != "" && string(body) != wantBody) {
			t.Fatalf("%q: got %d %q", req, resp.StatusCode, body)
		}
	}
	roundTrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "ok")
	<-time.After(4 * window) // idle between keep-alive requests
	roundTrip("POST /upload?pause=1200 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "5")
	roundTrip("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", "") // 1.5s of writing
	roundTrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "ok")
}

// An idle keep-alive connection is closed by the idle timeout, not earlier.
func TestMinDataRateIdleTimeoutStillApplies(t *testing.T) {
	t.Parallel()
	const window, idle = 200 * time.Millisecond, 1500 * time.Millisecond
	addr := minRateServer(t, 1000, window, &http.Server{ReadHeaderTimeout: 30 * time.Second, IdleTimeout: idle})
	c := dialT(t, addr)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(10 * idle))
	_, err = br.ReadByte()
	if d := time.Since(start); err == nil || d < idle*8/10 {
		t.Fatalf("closed after %v (%v), want the %v idle timeout", d, err, idle)
	}
}

// net/http's ReadHeaderTimeout, shorter than the window, still cuts first.
func TestMinDataRateKeepsReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	const rht = 400 * time.Millisecond
	addr := minRateServer(t, 1, 30*time.Second, &http.Server{ReadHeaderTimeout: rht})
	c := dialT(t, addr)
	trickle(c, "GET / HTTP/1.1\r\n", strings.Repeat("a", 100), 50*time.Millisecond)
	if d := closedWithin(t, c, 10*rht); d < rht*8/10 {
		t.Fatalf("closed after %v, before ReadHeaderTimeout %v", d, rht)
	}
}

// After an accepted upgrade, the tunnel is not measured.
func TestMinDataRateSkipsTunnels(t *testing.T) {
	t.Parallel()
	const window = 200 * time.Millisecond
	addr := minRateServer(t, 1000, window, &http.Server{ReadHeaderTimeout: 30 * time.Second})
	c := dialT(t, addr)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	frames := "\x81\x05hello" // slow WebSocket-like bytes: 7 bytes over ~1s
	for i := range len(frames) {
		<-time.After(150 * time.Millisecond)
		if _, err := io.WriteString(c, frames[i:i+1]); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if b, err := br.ReadByte(); err != nil || b != frames[i] {
			t.Fatalf("echo %d: %q %v", i, b, err)
		}
	}
}

func TestMinDataRateConfig(t *testing.T) {
	t.Parallel()
	raw := listenLocal(t)
	defer raw.Close()
	cases := []struct {
		name string
		cfg  config.MinDataRate
		same bool
		err  bool
	}{
		{"off", config.MinDataRate{}, true, false},
		{"on", config.MinDataRate{BytesPerSecond: 100, Window: config.Duration(time.Second)}, false, false},
		{"negative", config.MinDataRate{BytesPerSecond: -1, Window: config.Duration(time.Second)}, false, true},
		{"no window", config.MinDataRate{BytesPerSecond: 100}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := MinDataRateListener(raw, tc.cfg)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if !tc.err && (ln == raw) != tc.same {
				t.Fatalf("unchanged = %v, want %v", ln == raw, tc.same)
			}
		})
	}
	if !errors.Is(errMinRate, ErrMinDataRate) {
		t.Fatal("errMinRate does not match ErrMinDataRate")
	}
}

// loopConn returns the same keep-alive request on every Read: enough of a
// net.Conn to measure the wrapper's per-Read cost without syscalls.
type loopConn struct {
	net.Conn
	msg []byte
}

func (c *loopConn) Read(p []byte) (int, error)       { return copy(p, c.msg), nil }
func (c *loopConn) SetReadDeadline(time.Time) error  { return nil }
func (c *loopConn) SetDeadline(time.Time) error      { return nil }
func (c *loopConn) SetWriteDeadline(time.Time) error { return nil }

func BenchmarkMinDataRateRead(b *testing.B) {
	msg := []byte("GET /index.html HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	c, err := MinDataRateConn(&loopConn{msg: msg}, config.MinDataRate{BytesPerSecond: 1024, Window: config.Duration(time.Second)})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}
