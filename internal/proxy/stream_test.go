package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// TestSSEFlushed checks that each event reaches the client before the
// backend sends the next one: the backend waits for the client's
// acknowledgement of event i before writing event i+1, so without per-event
// flushing the test would deadlock (and fail at its deadline).
func TestSSEFlushed(t *testing.T) {
	t.Parallel()
	for _, ct := range []string{"text/event-stream", "text/event-stream; charset=utf-8"} {
		t.Run(ct, func(t *testing.T) {
			t.Parallel()
			ack := make(chan int)
			_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				w.Header().Set("Content-Length", "1000000") // known length: still flushed (SSE)
				w.WriteHeader(200)
				for i := range 10 {
					fmt.Fprintf(w, "data: %d\n\n", i)
					w.(http.Flusher).Flush()
					select {
					case got := <-ack:
						if got != i {
							t.Errorf("ack %d, want %d", got, i)
						}
					case <-time.After(3 * time.Second):
						t.Errorf("event %d not received by the client before the next was due", i)
						return
					}
				}
			})
			f := newFront(t, Options{Pool: pool, Timeouts: testTimeouts()})
			res, err := f.Client().Get(f.URL + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			br := bufio.NewReader(res.Body)
			for i := range 10 {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if want := fmt.Sprintf("data: %d\n", i); line != want {
					t.Fatalf("got %q, want %q", line, want)
				}
				br.ReadString('\n')
				ack <- i
			}
		})
	}
}

// TestStreamNotCutWithoutTotal: a stream that makes progress more often than
// the idle timeout runs longer than the idle timeout and is never cut when
// Total is 0 (the 30 s heartbeat case, scaled down).
func TestStreamNotCutWithoutTotal(t *testing.T) {
	t.Parallel()
	_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := range 20 { // 1 s in all, idle bound 400 ms (margin for loaded CI)
			<-tick.C
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
		}
	})
	f := newFront(t, Options{Pool: pool, Timeouts: Timeouts{ResponseHeader: time.Second, Idle: 400 * time.Millisecond}})
	res, err := f.Client().Get(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || strings.Count(string(body), "data:") != 20 {
		t.Fatalf("stream cut: %v after %q", err, body)
	}
	if info := f.nextInfo(t); info.Err != nil {
		t.Fatalf("info.Err = %v", info.Err)
	}
}

// TestTimeoutMidBody: once the head is forwarded, an idle or total timeout
// can only cut the response; the client must see it broken.
func TestTimeoutMidBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		timeouts Timeouts
		sentinel error
	}{
		{"idle", Timeouts{ResponseHeader: time.Second, Idle: 200 * time.Millisecond}, protocol.ErrIdleTimeout},
		{"total", Timeouts{ResponseHeader: time.Second, Idle: time.Second, Total: 300 * time.Millisecond}, protocol.ErrTotalTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			})
			f := newFront(t, Options{Pool: pool, Timeouts: tc.timeouts})
			start := time.Now()
			// With a known length and FlushInterval 0 the head may still sit
			// in the server's buffer when the cut comes: then the client
			// sees the connection close before any response, which is just
			// as visibly broken as a short body.
			res, err := f.Client().Get(f.URL)
			if err == nil {
				_, err = io.ReadAll(res.Body)
				res.Body.Close()
			}
			if err == nil {
				t.Fatal("truncated response read cleanly")
			}
			if el := time.Since(start); el < 200*time.Millisecond || el > 3*time.Second {
				t.Errorf("cut after %v", el)
			}
			if info := f.nextInfo(t); !errors.Is(info.Err, tc.sentinel) {
				t.Errorf("info.Err = %v, want %v", info.Err, tc.sentinel)
			}
		})
	}
}

// TestUploadStreams: the backend receives the first part of the body while
// the client is still holding the rest back, so bodies are not buffered.
func TestUploadStreams(t *testing.T) {
	t.Parallel()
	firstSeen := make(chan struct{})
	total := make(chan int64, 1)
	_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		n, _ := io.ReadFull(r.Body, buf[:1<<10])
		close(firstSeen)
		m, _ := io.CopyBuffer(io.Discard, r.Body, buf)
		total <- int64(n) + m
	})
	f := newFront(t, Options{Pool: pool, Timeouts: testTimeouts()})
	for _, chunked := range []bool{true, false} {
		t.Run(fmt.Sprint("chunked=", chunked), func(t *testing.T) {
			firstSeen = make(chan struct{})
			pr, pw := io.Pipe()
			const size = 32 << 20
			req, _ := http.NewRequest("POST", f.URL+"/upload", pr)
			if !chunked {
				req.ContentLength = size
			}
			go func() {
				chunk := make([]byte, 1<<10)
				pw.Write(chunk)
				select {
				case <-firstSeen:
				case <-time.After(5 * time.Second):
					pw.CloseWithError(errors.New("backend did not see the first bytes while the upload was open"))
					return
				}
				big := make([]byte, 1<<20)
				for sent := len(chunk); sent < size; sent += len(big) {
					pw.Write(big[:min(len(big), size-sent)])
				}
				pw.Close()
			}()
			res, err := f.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			f.nextInfo(t)
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			if got := <-total; got != size {
				t.Fatalf("backend got %d bytes, want %d", got, size)
			}
		})
	}
}

func TestMalformedChunkedBody(t *testing.T) {
	t.Parallel()
	hits := make(chan struct{}, 10)
	_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) { hits <- struct{}{} })
	f := newFront(t, Options{Pool: pool, Timeouts: testTimeouts()})
	br, _ := rawRequest(t, frontAddr(f), "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	info := f.nextInfo(t)
	if res.StatusCode != 400 || string(body) != string(protocol.ErrorBody(400, info.ID)) {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
	if len(hits) != 0 {
		t.Fatal("backend was contacted")
	}
}

func TestExpectContinue(t *testing.T) {
	t.Parallel()
	_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, "got "+string(b))
	})
	f := newFront(t, Options{Pool: pool, Timeouts: testTimeouts()})
	br, c := rawRequest(t, frontAddr(f), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil || line != "HTTP/1.1 100 Continue" {
		t.Fatalf("first line %q, %v; want the 100 before we send the body", line, err)
	}
	if _, err := tp.ReadMIMEHeader(); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hello"))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(body) != "got hello" {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
}

func TestEarlyHintsAndTrailers(t *testing.T) {
	t.Parallel()
	_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Trailer", "X-Checksum")
		w.WriteHeader(200)
		io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
	})
	f := newFront(t, Options{Pool: pool, Timeouts: testTimeouts()})
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprint(code, " ", h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", f.URL, nil)
	req.Header.Set("TE", "trailers")
	res, err := f.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	info := f.nextInfo(t)
	if len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload; as=style" {
		t.Errorf("1xx seen: %q", hints)
	}
	if string(body) != "body" || res.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("body %q trailer %v", body, res.Trailer)
	}
	if res.Header.Get("X-Request-ID") != info.ID {
		t.Errorf("request ID lost after a 1xx: %q", res.Header.Values("X-Request-ID"))
	}
}

func TestWebSocket(t *testing.T) {
	t.Parallel()
	_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo "), msg...)); err != nil {
				return
			}
		}
	})
	// Short idle and total bounds must not touch an upgraded connection.
	f := newFront(t, Options{Pool: pool, Timeouts: Timeouts{ResponseHeader: time.Second, Idle: 100 * time.Millisecond, Total: 100 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.URL, "http"), &websocket.DialOptions{HTTPClient: f.Client()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for i := range 3 {
		if i == 1 {
			// Outlast the idle and total bounds (not synchronisation: the
			// elapsed time is what is under test).
			<-time.After(250 * time.Millisecond)
		}
		msg := fmt.Sprint("hi ", i)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != "echo "+msg {
			t.Fatalf("got %q, %v", got, err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}
