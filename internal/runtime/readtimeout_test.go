package runtime

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// server.read_timeout bounds the gaps in a request body only: once the body
// has been read, a backend that takes longer than read_timeout to answer
// (a model thinking) must not get the exchange cut. Before the fix the
// deadline stayed on the connection, net/http's background read hit it and
// cancelled the request: the client got an empty 200.
func TestReadTimeoutEndsWithTheBody(t *testing.T) {
	const gap = 150 * time.Millisecond
	tests := []struct {
		name string
		body string
	}{
		{"small body", "hello"},
		{"no body", ""},
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		// The scenario itself, not synchronisation: answer well after
		// read_timeout has passed since the body ended.
		select {
		case <-time.After(4 * gap):
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "got "+string(b))
	}))
	defer backend.Close()
	cfg := mustParse(t, "server: {read_timeout: 150ms}\nlisteners: [{address: \"127.0.0.1:0\"}]\nroutes: [{upstream: b}]\nupstreams: {b: {targets: [\""+backend.Listener.Addr().String()+"\"]}}\n")
	rt, err := Build(cfg, nil, Options{Logger: discard(), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	front := httptest.NewServer(NewHolder(rt))
	defer front.Close()
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Post(front.URL+"/x", "text/plain", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(b) != "got "+tc.body {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, b, "got "+tc.body)
			}
		})
	}
}

// The proxy cuts a stalled upload with a read deadline in the past, and
// countingBody re-arms server.read_timeout before every read of the body.
// A re-arm that came after the cut used to replace it: the upload went on
// waiting up to read_timeout and the client's 504 with it. Once cut, the
// body's next read must fail at once.
func TestUploadCutSticks(t *testing.T) {
	result := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := newRecorder(w)
		body := newCountingBody(r.Body, rec, time.Minute)
		// The cut, as the proxy's exchange timer makes it: through
		// whatever wraps the writer, down to the recorder.
		if err := http.NewResponseController(rec).SetReadDeadline(time.Unix(1, 0)); err != nil {
			result <- err
			return
		}
		_, err := body.Read(make([]byte, 16))
		result <- err
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A body announced and never sent: the client stalls mid-upload.
	if _, err := io.WriteString(conn, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-result:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read after the cut: %v, want a deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read after the cut waited for read_timeout: the cut was re-armed away")
	}
}
