package compress

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestMaxStreams: with every coding slot held by an open response, the
// next response goes out uncompressed (Vary still set), and a slot freed
// by a finished response is used again.
func TestMaxStreams(t *testing.T) {
	c := newCompressor(t, func(o *Options) { o.Encodings = []Encoding{Gzip}; o.MaxStreams = 2 })
	var mu sync.Mutex
	release := map[string]chan struct{}{}
	// released: the test is over; a handler that asks for its channel
	// only now (it can still be between its flush and hold when the test
	// ends) gets a closed one, or the server's Close would wait for it
	// forever.
	released := false
	hold := func(id string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if release[id] == nil {
			release[id] = make(chan struct{})
			if released {
				close(release[id])
			}
		}
		return release[id]
	}
	body := jsonBody(8 << 10)
	srv := httptest.NewServer(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
		http.NewResponseController(w).Flush() // the head (and the coding decision) leaves now
		select {
		case <-hold(r.URL.Query().Get("id")):
		case <-r.Context().Done(): // the client went away
		}
	})))
	t.Cleanup(srv.Close)
	client := rawClient(t)
	open := func(id string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/?id="+id, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	finish := func(id string, res *http.Response) {
		t.Helper()
		close(hold(id))
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		released = true
		for _, ch := range release {
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
	})

	a, b, third := open("a"), open("b"), open("c")
	for _, tc := range []struct {
		name string
		res  *http.Response
		want string
	}{{"first", a, "gzip"}, {"second", b, "gzip"}, {"third, past max_streams", third, ""}} {
		if got := tc.res.Header.Get("Content-Encoding"); got != tc.want {
			t.Errorf("%s: Content-Encoding %q, want %q", tc.name, got, tc.want)
		}
		if tc.res.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s: Vary %q", tc.name, tc.res.Header.Get("Vary"))
		}
	}
	finish("c", third)
	finish("a", a)
	if got := open("d").Header.Get("Content-Encoding"); got != "gzip" {
		t.Errorf("after a coded response ended: Content-Encoding %q, want gzip", got)
	}
}

// A response the handler aborts mid-stream (http.ErrAbortHandler, as the
// proxy does when a copy fails) gives its coding slot back.
func TestMaxStreamsAfterAbort(t *testing.T) {
	c := newCompressor(t, func(o *Options) { o.Encodings = []Encoding{Gzip}; o.MaxStreams = 1 })
	body := jsonBody(8 << 10)
	srv := httptest.NewServer(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
		if r.URL.Path == "/abort" {
			http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler)
		}
	})))
	t.Cleanup(srv.Close)
	client := rawClient(t)
	get := func(path string) (string, error) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		_, err = io.Copy(io.Discard, res.Body)
		return res.Header.Get("Content-Encoding"), err
	}
	for range 3 {
		if ce, err := get("/abort"); ce != "gzip" || err == nil {
			t.Fatalf("aborted response: Content-Encoding %q, read error %v (want gzip, cut off)", ce, err)
		}
	}
	if ce, err := get("/"); err != nil || ce != "gzip" {
		t.Fatalf("after aborted responses: Content-Encoding %q, %v; want gzip (slots leaked)", ce, err)
	}
}
