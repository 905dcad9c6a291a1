package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// server.write_timeout: a client that stops reading a large response is
// cut off, and the exchange upstream ends with it (the backend's write
// fails), on both engines; nothing waits forever for a reader that left
// the connection open.
func TestWriteTimeoutCutsStalledReader(t *testing.T) {
	chunk := []byte(strings.Repeat("s", 64<<10))
	ended := make(chan error, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(512*len(chunk)))
		for range 512 { // 32 MiB, far more than socket buffers hold
			if _, err := w.Write(chunk); err != nil {
				ended <- err
				return
			}
		}
		ended <- nil
	}))
	t.Cleanup(be.Close)
	gw := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
server: { write_timeout: 500ms }
routes:
  - upstream: be
upstreams:
  be: { targets: [ %q ] }
`, strings.TrimPrefix(be.URL, "http://")))
	res, err := newClient(t).Get(gw.URL("/big"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// Read nothing more: the proxy must give up on this client.
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the backend wrote all 32 MiB to a client that read nothing")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the exchange with a stalled client was still running after 15s (write_timeout 500ms)")
	}
}
