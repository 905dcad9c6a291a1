package listen

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

const testTimeout = 5 * time.Second

// guardedServer starts net/http behind GuardListener on 127.0.0.1 and
// returns its address and the handler call counter.
func guardedServer(t *testing.T, limits protocol.FramingLimits, h http.HandlerFunc) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	calls := new(atomic.Int64)
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "body", http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "%s %s %d", r.Method, r.URL.Path, len(body))
		}
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			h(w, r)
		}),
		ReadHeaderTimeout: testTimeout,
	}
	go func() { _ = srv.Serve(GuardListener(ln, limits)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), calls
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.SetDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// readResponses reads n responses and returns "status body" strings.
func readResponses(t *testing.T, br *bufio.Reader, n int) []string {
	t.Helper()
	var out []string
	for range n {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s", res.StatusCode, body))
	}
	return out
}

// expectClosed asserts the server closes the connection with nothing more.
func expectClosed(t *testing.T, br *bufio.Reader) {
	t.Helper()
	if b, err := br.ReadByte(); err == nil {
		rest, _ := br.Peek(br.Buffered())
		t.Fatalf("unexpected bytes after last response: %q", append([]byte{b}, rest...))
	}
}

const h = "Host: a\r\n"

func TestGuardRefusesSmuggling(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		raw    string
		status string
	}{
		{"CL and TE", "POST / HTTP/1.1\r\n" + h + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX", "400"},
		{"TE and CL", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nX", "400"},
		{"two Content-Length", "POST / HTTP/1.1\r\n" + h + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400"},
		{"TE not final chunked", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", "400"},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"obs-fold", "GET / HTTP/1.1\r\n" + h + "X-A: 1\r\n\t2\r\n\r\n", "400"},
		{"bare LF", "GET / HTTP/1.1\n" + h + "\n", "400"},
		{"bare CR", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", "400"},
		{"space before colon", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", "400"},
		{"invalid header name", "GET / HTTP/1.1\r\n" + h + "X\"A: 1\r\n\r\n", "400"},
		{"control char in value", "GET / HTTP/1.1\r\n" + h + "X-A: a\x01b\r\n\r\n", "400"},
		{"bad request line", "GET /a b HTTP/1.1\r\n" + h + "\r\n", "400"},
		{"bad chunk size", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n-1\r\n\r\n", "400"},
		{"missing CRLF after chunk", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n", "400"},
		{"chunk ext bare LF", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n2;x\nab\r\n0\r\n\r\n", "400"},
		{"URI too long", "GET /" + strings.Repeat("a", 200) + " HTTP/1.1\r\n" + h + "\r\n", "414"},
		{"head too large", "GET / HTTP/1.1\r\n" + h + "X: " + strings.Repeat("a", 600) + "\r\n\r\n", "431"},
		{"HTTP/2.0 request line", "GET / HTTP/2.0\r\n" + h + "\r\n", "505"},
	}
	addr, calls := guardedServer(t, protocol.FramingLimits{MaxURIBytes: 128, MaxHeaderBytes: 512}, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, slow := range []bool{false, true} {
				before := calls.Load()
				c, br := dial(t, addr)
				if slow {
					for i := range len(tc.raw) {
						if _, err := c.Write([]byte{tc.raw[i]}); err != nil {
							break // the guard may close early
						}
					}
				} else if _, err := io.WriteString(c, tc.raw); err != nil {
					t.Fatal(err)
				}
				got := readResponses(t, br, 1)[0]
				if !strings.HasPrefix(got, tc.status+" ") {
					t.Fatalf("slow=%v: got %q, want %s", slow, got, tc.status)
				}
				expectClosed(t, br)
				// A malformed chunked body sent slowly arrives after its
				// (valid) head was handed over: the handler runs, but
				// its body read fails before the malformed bytes.
				bodyErr := slow && strings.Contains(tc.name, "chunk")
				if n := calls.Load() - before; n != 0 && !bodyErr {
					t.Fatalf("slow=%v: handler called %d times", slow, n)
				}
			}
		})
	}
}

func TestGuardKeepAlive(t *testing.T) {
	t.Parallel()
	addr, calls := guardedServer(t, protocol.FramingLimits{}, nil)
	cases := []struct {
		name   string
		writes []string
		want   []string
		calls  int64
		closed bool
	}{
		{
			name: "pipelined valid",
			writes: []string{"GET /1 HTTP/1.1\r\n" + h + "\r\n" +
				"POST /2 HTTP/1.1\r\n" + h + "Content-Length: 3\r\n\r\nabc" +
				"POST /3 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3;e=1\r\ncde\r\n0\r\nT: 1\r\n\r\n"},
			want:  []string{"200 GET /1 0", "200 POST /2 3", "200 POST /3 5"},
			calls: 3,
		},
		{
			name: "valid then smuggled, one write",
			writes: []string{"GET /1 HTTP/1.1\r\n" + h + "\r\n" +
				"POST /2 HTTP/1.1\r\n" + h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n" + h + "\r\n"},
			want:   []string{"200 GET /1 0", "400 400 Bad Request\n"},
			calls:  1,
			closed: true,
		},
		{
			name: "keep-alive chunked, several writes",
			writes: []string{
				"POST /a HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n",
				"4\r\nabcd\r\n", "1\r\ne\r\n", "0\r\n\r\n",
				"POST /b HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n",
			},
			want:  []string{"200 POST /a 5", "200 POST /b 3"},
			calls: 2,
		},
		{
			name:   "leading CRLF after POST",
			writes: []string{"POST /a HTTP/1.1\r\n" + h + "Content-Length: 1\r\n\r\nx\r\nGET /b HTTP/1.1\r\n" + h + "\r\n"},
			want:   []string{"200 POST /a 1", "200 GET /b 0"},
			calls:  2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := calls.Load()
			c, br := dial(t, addr)
			for _, w := range tc.writes {
				if _, err := io.WriteString(c, w); err != nil {
					t.Fatal(err)
				}
			}
			got := readResponses(t, br, len(tc.want))
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if tc.closed {
				expectClosed(t, br)
			}
			if n := calls.Load() - before; n != tc.calls {
				t.Fatalf("handler called %d times, want %d", n, tc.calls)
			}
		})
	}
}

func TestGuardExpectContinue(t *testing.T) {
	t.Parallel()
	addr, _ := guardedServer(t, protocol.FramingLimits{}, nil)
	c, br := dial(t, addr)
	if _, err := io.WriteString(c, "POST /e HTTP/1.1\r\n"+h+"Expect: 100-continue\r\nContent-Length: 4\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("interim: %q %v", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "body"); err != nil {
		t.Fatal(err)
	}
	if got := readResponses(t, br, 1)[0]; got != "200 POST /e 4" {
		t.Fatalf("got %q", got)
	}
}

// upgradeHandler accepts a WebSocket-style upgrade and echoes raw bytes,
// or answers 426 when the query says so.
func upgradeHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("refuse") != "" || r.Header.Get("Upgrade") == "" {
		http.Error(w, "no", http.StatusUpgradeRequired)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
	_ = brw.Flush()
	buf := make([]byte, 64)
	for {
		n, err := brw.Read(buf)
		if n > 0 {
			_, _ = conn.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func TestGuardUpgrade(t *testing.T) {
	t.Parallel()
	addr, calls := guardedServer(t, protocol.FramingLimits{}, upgradeHandler)
	t.Run("accepted upgrade passes through", func(t *testing.T) {
		c, br := dial(t, addr)
		if _, err := io.WriteString(c, "GET /ws HTTP/1.1\r\n"+h+"Connection: Upgrade\r\nUpgrade: test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil || res.StatusCode != 101 {
			t.Fatalf("%v %v", res, err)
		}
		frame := []byte("\x81\x05hello\r\n\x00\xffGET / HTTP/1.1\nX: y\n\n")
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(frame))
		if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, frame) {
			t.Fatalf("echo %q %v", got, err)
		}
	})
	t.Run("refused upgrade keeps checking", func(t *testing.T) {
		before := calls.Load()
		c, br := dial(t, addr)
		if _, err := io.WriteString(c, "GET /ws?refuse=1 HTTP/1.1\r\n"+h+"Connection: Upgrade\r\nUpgrade: test\r\n\r\n"+
			"POST / HTTP/1.1\r\n"+h+"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		got := readResponses(t, br, 2)
		if !strings.HasPrefix(got[0], "426 ") || !strings.HasPrefix(got[1], "400 ") {
			t.Fatalf("got %q", got)
		}
		expectClosed(t, br)
		if n := calls.Load() - before; n != 1 {
			t.Fatalf("handler called %d times", n)
		}
	})
}

func TestGuardSlowClient(t *testing.T) {
	t.Parallel()
	addr, _ := guardedServer(t, protocol.FramingLimits{}, nil)
	c, br := dial(t, addr)
	raw := "POST /slow HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
		"GET /next HTTP/1.1\r\n" + h + "\r\n"
	for i := range len(raw) {
		if _, err := c.Write([]byte{raw[i]}); err != nil {
			t.Fatal(err)
		}
	}
	got := readResponses(t, br, 2)
	if got[0] != "200 POST /slow 3" || got[1] != "200 GET /next 0" {
		t.Fatalf("got %q", got)
	}
}

func TestGuardErrorResponse(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 414, 431, 505} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(protocol.RefusalResponse(status))), nil)
			if err != nil || res.StatusCode != status || res.Close != true {
				t.Fatalf("%v %v", res, err)
			}
			body, _ := io.ReadAll(res.Body)
			if string(body) != fmt.Sprintf("%d %s\n", status, refusalReasonForTest(status)) {
				t.Fatalf("body %q", body)
			}
		})
	}
}

// refusalReasonForTest is the reason phrase the refusal must carry.
func refusalReasonForTest(status int) string {
	switch status {
	case 414:
		return "URI Too Long"
	case 431:
		return "Request Header Fields Too Large"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Bad Request"
}
