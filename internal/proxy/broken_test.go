package proxy

import (
	"io"
	"net/http"
	"testing"
)

// TestBackendDiesMidResponse: a backend that closes its connection after
// the head and part of the body must give the client a visibly broken
// response (short body or missing last chunk, connection closed), never a
// clean one. Read with a raw TCP client so nothing is papered over.
func TestBackendDiesMidResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, head, part string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", "only some bytes"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, pool := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				c, brw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				brw.WriteString(tc.head + tc.part)
				brw.Flush()
				c.Close()
			})
			f := newFront(t, Options{Pool: pool, Timeouts: testTimeouts()})
			br, _ := rawRequest(t, frontAddr(f), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			res, err := http.ReadResponse(br, nil)
			if err == nil {
				var body []byte
				body, err = io.ReadAll(res.Body)
				t.Logf("head %d forwarded, body cut after %q: %v", res.StatusCode, body, err)
				if err == nil {
					t.Fatalf("clean %d response with body %q from a dead backend", res.StatusCode, body)
				}
			}
			// And the connection is closed, not reusable.
			if _, err := br.ReadByte(); err == nil {
				t.Fatal("connection still open")
			}
			f.nextInfo(t)
		})
	}
}
