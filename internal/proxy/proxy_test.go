package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	pool := newPool(t, "127.0.0.1:1")
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no pool", Options{}},
		{"negative", Options{Pool: pool, Timeouts: Timeouts{Idle: -1}}},
		{"bad header", Options{Pool: pool, RequestIDHeader: "X Bad"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); !errors.Is(err, ErrBadOptions) {
				t.Fatalf("err = %v, want ErrBadOptions", err)
			}
		})
	}
}

func TestForwardRequest(t *testing.T) {
	t.Parallel()
	type seen struct {
		host, uri, xff, xfproto, xfhost, fwd, reqID, custom, auth, ua, acceptEnc string
	}
	for _, tc := range []struct {
		name         string
		preserveHost bool
	}{
		{"preserve host", true},
		{"target host", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan seen, 1)
			b, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				got <- seen{r.Host, r.RequestURI, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"),
					r.Header.Get("X-Forwarded-Host"), r.Header.Get("Forwarded"), r.Header.Get("X-Request-Id"),
					r.Header.Get("X-Custom"), r.Header.Get("Authorization"), r.Header.Get("User-Agent"),
					r.Header.Get("Accept-Encoding")}
				w.Header().Set("X-Request-ID", "backend-echo")
				w.Header().Set("Connection", "X-Hop")
				w.Header().Set("X-Hop", "must go")
				io.WriteString(w, "ok")
			})
			f := newFront(t, Options{Pool: pool, PreserveHost: tc.preserveHost, Timeouts: testTimeouts()})
			req, _ := http.NewRequest("GET", f.URL+"/a/b%2Fc?q=1;x=%zz&r", nil)
			req.Host = "api.example.com"
			req.Header.Set("X-Forwarded-For", "6.6.6.6") // from an untrusted peer: replaced
			req.Header.Set("Connection", "X-Custom")     // hop-by-hop: removed
			req.Header.Set("X-Custom", "secret")
			req.Header.Set("X-Request-ID", "forged")
			req.Header.Set("User-Agent", "test-ua")
			req.Header.Set("Accept-Encoding", "br") // we must not add gzip
			res, err := f.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			info := f.nextInfo(t)
			s := <-got
			if res.StatusCode != 200 || string(body) != "ok" {
				t.Fatalf("status %d body %q", res.StatusCode, body)
			}
			wantHost := "api.example.com"
			if !tc.preserveHost {
				wantHost = b.Listener.Addr().String()
			}
			if s.host != wantHost {
				t.Errorf("Host = %q, want %q", s.host, wantHost)
			}
			if s.uri != "/a/b%2Fc?q=1;x=%zz&r" {
				t.Errorf("request URI = %q, want path and query as received", s.uri)
			}
			if s.xff != "127.0.0.1" || s.xfproto != "http" || s.xfhost != "api.example.com" || !strings.HasPrefix(s.fwd, "for=127.0.0.1") {
				t.Errorf("forwarding: xff=%q proto=%q host=%q fwd=%q", s.xff, s.xfproto, s.xfhost, s.fwd)
			}
			if s.reqID != info.ID || res.Header.Get("X-Request-ID") != info.ID || len(res.Header.Values("X-Request-ID")) != 1 {
				t.Errorf("request id upstream %q, response %q, want %q", s.reqID, res.Header.Values("X-Request-ID"), info.ID)
			}
			if s.custom != "" || res.Header.Get("X-Hop") != "" {
				t.Errorf("hop-by-hop fields passed: req %q resp %q", s.custom, res.Header.Get("X-Hop"))
			}
			if s.ua != "test-ua" || s.acceptEnc != "br" {
				t.Errorf("changed fields: User-Agent %q Accept-Encoding %q", s.ua, s.acceptEnc)
			}
			if info.Upstream != "backend" || info.Target != b.Listener.Addr().String() || info.Err != nil ||
				info.UpstreamStart.IsZero() || info.FirstByte <= 0 {
				t.Errorf("info = %+v", info)
			}
		})
	}
}

func TestAbsoluteFormNeverRedirectsConnection(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r.Host + " " + r.RequestURI + " auth=" + r.Header.Get("Authorization")
	})
	f := newFront(t, Options{Pool: pool, PreserveHost: true, Timeouts: testTimeouts()})
	br, _ := rawRequest(t, frontAddr(f), "GET http://user:pw@evil.example:9/x?y HTTP/1.1\r\nHost: evil.example:9\r\n\r\n")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if s := <-got; s != "evil.example:9 /x?y auth=" {
		t.Fatalf("backend saw %q", s)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	slow, _ := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	// A port with nothing listening: bind, note, close.
	dead, _ := newBackend(t, nil)
	deadAddr := dead.Listener.Addr().String()
	dead.Close()

	for _, tc := range []struct {
		name     string
		targets  []string
		timeouts Timeouts
		status   int
		min, max time.Duration
		sentinel error
	}{
		{name: "refused", targets: []string{deadAddr}, timeouts: testTimeouts(), status: 502, max: time.Second, sentinel: protocol.ErrUpstreamConnect},
		{name: "no target", status: 503, max: time.Second, sentinel: protocol.ErrNoTarget},
		{name: "response header timeout", targets: []string{slow.Listener.Addr().String()},
			timeouts: Timeouts{ResponseHeader: 200 * time.Millisecond, Idle: 5 * time.Second},
			status:   504, min: 200 * time.Millisecond, max: time.Second, sentinel: protocol.ErrResponseHeaderTimeout},
		{name: "total timeout", targets: []string{slow.Listener.Addr().String()},
			timeouts: Timeouts{ResponseHeader: 5 * time.Second, Total: 200 * time.Millisecond},
			status:   504, min: 200 * time.Millisecond, max: time.Second, sentinel: protocol.ErrTotalTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFront(t, Options{Pool: newPool(t, tc.targets...), Timeouts: tc.timeouts})
			start := time.Now()
			res, err := f.Client().Get(f.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			el := time.Since(start)
			info := f.nextInfo(t)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if el < tc.min || el > tc.max {
				t.Errorf("took %v, want within [%v, %v]", el, tc.min, tc.max)
			}
			want := string(protocol.ErrorBody(tc.status, info.ID))
			if string(body) != want {
				t.Errorf("body %q, want %q", body, want)
			}
			if ct, cc, id := res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"), res.Header.Get("X-Request-Id"); ct != "text/plain; charset=utf-8" || cc != "no-store" || id != info.ID {
				t.Errorf("headers: Content-Type %q Cache-Control %q X-Request-ID %q", ct, cc, id)
			}
			if !errors.Is(info.Err, tc.sentinel) {
				t.Errorf("info.Err = %v, want %v", info.Err, tc.sentinel)
			}
		})
	}
}

func TestClientGone(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	})
	f := newFront(t, Options{Pool: pool, Timeouts: testTimeouts()})
	req, _ := http.NewRequest("GET", f.URL, nil)
	ctx, cancel := contextWithCancel()
	go func() { <-arrived; cancel() }()
	_, err := f.Client().Do(req.WithContext(ctx))
	if err == nil {
		t.Fatal("request succeeded")
	}
	info := f.nextInfo(t)
	if st := protocol.StatusFor(info.Err); st != protocol.StatusClientClosedRequest {
		t.Fatalf("info.Err = %v (status %d), want 499", info.Err, st)
	}
}
