package engine

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestProxyExchanges(t *testing.T) {
	r := newRig(t, backend(t, echo), rigOptions{})
	cases := []struct {
		name, raw, method string
		wantStatus        int
		wantBody          string
		wantHdr           map[string]string
	}{
		{name: "get", raw: "GET /a/../b?x=1&y HTTP/1.1\r\nHost: example.test\r\n\r\n", method: "GET",
			wantStatus: 200, wantHdr: map[string]string{"X-Uri": "/b?x=1&y", "X-Host": "example.test", "X-Proto": "HTTP/1.1"}},
		{name: "post content-length", raw: "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", method: "POST",
			wantStatus: 200, wantBody: "hello", wantHdr: map[string]string{"X-Method": "POST"}},
		{name: "post chunked", raw: "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n", method: "POST",
			wantStatus: 200, wantBody: "hello world", wantHdr: map[string]string{"X-Te": "chunked"}},
		{name: "head", raw: "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n", method: "HEAD",
			wantStatus: 200, wantHdr: map[string]string{"X-Method": "HEAD"}},
		{name: "http/1.0", raw: "GET /old HTTP/1.0\r\n\r\n", method: "GET",
			wantStatus: 200, wantHdr: map[string]string{"X-Uri": "/old", "X-Proto": "HTTP/1.1"}},
		{name: "expect stripped", raw: "PUT /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok", method: "PUT",
			wantStatus: 200, wantBody: "ok", wantHdr: map[string]string{"X-Got-Expect": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, r.addr)
			c.send(tc.raw)
			res, body := c.read(tc.method)
			if strings.HasPrefix(body, "HTTP/1.1 100") {
				t.Fatalf("unexpected interim response in body")
			}
			if res.StatusCode != tc.wantStatus || body != tc.wantBody {
				t.Fatalf("got %d %q, want %d %q", res.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			for k, v := range tc.wantHdr {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if id := res.Header.Get("X-Request-Id"); id == "" || id != res.Header.Get("X-Got-X-Request-Id") {
				t.Errorf("request ID %q not sent both ways (backend got %q)", id, res.Header.Get("X-Got-X-Request-Id"))
			}
		})
	}
}

func TestKeepAliveAndUpstreamReuse(t *testing.T) {
	r := newRig(t, backend(t, echo), rigOptions{})
	c := dial(t, r.addr)
	var remotes []string
	for i := range 4 {
		c.send(fmt.Sprintf("GET /k%d HTTP/1.1\r\nHost: h\r\n\r\n", i))
		res, _ := c.read("GET")
		if res.StatusCode != 200 || res.Close {
			t.Fatalf("request %d: %d close=%v", i, res.StatusCode, res.Close)
		}
		remotes = append(remotes, res.Header.Get("X-Remote"))
	}
	for _, rm := range remotes[1:] {
		if rm != remotes[0] {
			t.Fatalf("upstream connection not reused (LIFO pool): %v", remotes)
		}
	}
	// Connection: close is honoured and announced.
	c.send("GET /bye HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	if res, _ := c.read("GET"); !res.Close {
		t.Fatal("response to Connection: close lacks Connection: close")
	}
	if !c.closed() {
		t.Fatal("connection not closed after Connection: close")
	}
}

func TestPipeliningInOrder(t *testing.T) {
	r := newRig(t, backend(t, echo), rigOptions{})
	c := dial(t, r.addr)
	var b strings.Builder
	for i := range 5 {
		fmt.Fprintf(&b, "POST /p%d HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n%d", i, i)
	}
	c.send(b.String())
	for i := range 5 {
		res, body := c.read("POST")
		if got := res.Header.Get("X-Uri"); got != fmt.Sprintf("/p%d", i) || body != strconv.Itoa(i) {
			t.Fatalf("response %d answers %s with %q", i, got, body)
		}
	}
}

func TestExpectContinue(t *testing.T) {
	r := newRig(t, backend(t, echo), rigOptions{})
	c := dial(t, r.addr)
	c.send("POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	line, err := c.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v; want 100 Continue before the body is sent", line, err)
	}
	if l, _ := c.br.ReadString('\n'); l != "\r\n" {
		t.Fatalf("100 Continue not terminated: %q", l)
	}
	c.send("data")
	if res, body := c.read("POST"); res.StatusCode != 200 || body != "data" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
}

func TestChunkedResponseBothVersions(t *testing.T) {
	be := backend(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "part1-")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "part2")
	})
	r := newRig(t, be, rigOptions{})
	for _, tc := range []struct {
		name, raw   string
		wantChunked bool
	}{
		{"http/1.1 keeps chunked", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"http/1.0 gets it decoded", "GET / HTTP/1.0\r\n\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, r.addr)
			c.send(tc.raw)
			res, body := c.read("GET")
			chunked := len(res.TransferEncoding) > 0
			if body != "part1-part2" || chunked != tc.wantChunked {
				t.Fatalf("body %q chunked=%v", body, chunked)
			}
		})
	}
}

func TestLargeBodies(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	be := backend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			n, _ := io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, strconv.FormatInt(n, 10))
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		_, _ = w.Write(big)
	})
	r := newRig(t, be, rigOptions{})
	c := dial(t, r.addr)
	c.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
	if res, body := c.read("GET"); res.StatusCode != 200 || body != string(big) {
		t.Fatalf("download: %d, %d bytes", res.StatusCode, len(body))
	}
	c.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n")
	go func() { _, _ = c.c.Write(big) }()
	if res, body := c.read("POST"); res.StatusCode != 200 || body != strconv.Itoa(len(big)) {
		t.Fatalf("upload: %d %q", res.StatusCode, body)
	}
	// The connection still works after both splices.
	c.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
	if _, body := c.read("POST"); body != "3" {
		t.Fatalf("after splice: %q", body)
	}
}

func TestSSEEventsArriveOneByOne(t *testing.T) {
	next := make(chan struct{})
	be := backend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next: // the client saw event i before i+1 is written
			case <-r.Context().Done():
				return
			}
		}
	})
	r := newRig(t, be, rigOptions{})
	c := dial(t, r.addr)
	c.send("GET /sse HTTP/1.1\r\nHost: h\r\n\r\n")
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, 64)
	for i := range 3 {
		var got []byte
		for !bytes.HasSuffix(got, []byte("\n\n")) {
			n, err := res.Body.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("event %d: %v after %q", i, err, got)
			}
		}
		if want := fmt.Sprintf("data: %d\n\n", i); string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		next <- struct{}{}
	}
}

func TestUpstreamFailures(t *testing.T) {
	dead := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := ln.Addr().String()
		_ = ln.Close()
		return a
	}()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	hanging := backend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	for _, tc := range []struct {
		name, be string
		want     int
	}{
		{"dead backend", dead, 502},
		{"hanging backend", hanging, 504},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.be, rigOptions{timeouts: Timeouts{ResponseHeader: 100 * time.Millisecond}})
			c := dial(t, r.addr)
			c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
			res, body := c.read("GET")
			id := res.Header.Get("X-Request-Id")
			if res.StatusCode != tc.want || id == "" || !strings.Contains(body, id) {
				t.Fatalf("got %d %q (id %q)", res.StatusCode, body, id)
			}
			if strings.Contains(body, "127.0.0.1") || strings.Contains(body, "dial") {
				t.Fatalf("error body leaks details: %q", body)
			}
			// The client connection stays usable after an error.
			c.send("GET /again HTTP/1.1\r\nHost: h\r\n\r\n")
			if res, _ := c.read("GET"); res.StatusCode != tc.want {
				t.Fatalf("second request: %d", res.StatusCode)
			}
		})
	}
}

func TestBackendDiesMidBody(t *testing.T) {
	for _, tc := range []struct{ name, resp string }{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					buf := make([]byte, 4096)
					_, _ = c.Read(buf)
					_, _ = io.WriteString(c, tc.resp)
					_ = c.Close()
				}
			}()
			r := newRig(t, ln.Addr().String(), rigOptions{})
			c := dial(t, r.addr)
			c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			res, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(res.Body); err == nil {
				t.Fatal("a broken response was delivered as complete")
			}
		})
	}
}

func TestSmugglingRefused(t *testing.T) {
	var hits atomic.Int64
	be := backend(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	r := newRig(t, be, rigOptions{})
	for _, tc := range []struct {
		name, raw string
		want      int
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"two CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd", 400},
		{"CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4, 4\r\n\r\nabcd", 400},
		{"TE not chunked last", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE obfuscated", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
		{"space before colon", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400},
		{"bare LF", "GET / HTTP/1.1\nHost: h\n\n", 400},
		{"bare CR", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", 400},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"bad escape", "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
		{"URI too long", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
		{"head too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", 1<<20) + "\r\n\r\n", 431},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, r.addr)
			go func() { _, _ = io.WriteString(c.c, tc.raw) }()
			res, _ := c.read("GET")
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
			}
			if !c.closed() {
				t.Fatal("connection not closed after a refusal")
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d refused requests reached the backend", n)
	}
}
