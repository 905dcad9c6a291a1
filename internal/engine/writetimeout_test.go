package engine

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// server.write_timeout on the own engine: a client that stops reading is
// cut off after the timeout and its upstream exchange ends; a client that
// reads slowly but steadily gets the whole response.
func TestWriteTimeout(t *testing.T) {
	// More than the sockets between backend and client can hold once
	// Linux autotunes their receive buffers (net.ipv4.tcp_rmem's maximum
	// is 32 MiB here): a 32 MiB body once went through whole.
	const bigLen = 128 << 20
	chunk := bytes.Repeat([]byte("w"), 64<<10)
	be := backend(t, func(w http.ResponseWriter, r *http.Request) {
		n := bigLen
		if r.URL.Path == "/small" {
			n = 4 << 20
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		for ; n > 0; n -= len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	r := newRig(t, be, rigOptions{writeTimeout: 300 * time.Millisecond})
	target := r.pool.Targets()[0]

	t.Run("client stops reading", func(t *testing.T) {
		c := dial(t, r.addr)
		c.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
		res, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = res // and read nothing more
		waitFor(t, "the stalled exchange to be cut", func() bool { return target.InFlight() == 0 })
		// What the kernel had buffered arrives, then the close: never
		// the whole body.
		got, err := io.Copy(io.Discard, res.Body)
		if err == nil || got == bigLen {
			t.Fatalf("stalled client got %d bytes, err %v: not cut", got, err)
		}
	})
	t.Run("slow but steady client", func(t *testing.T) {
		c := dial(t, r.addr)
		c.send("GET /small HTTP/1.1\r\nHost: h\r\n\r\n")
		res, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256<<10)
		var got int
		for {
			n, err := res.Body.Read(buf)
			got += n
			if err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond) // a slow reader, not synchronisation
		}
		if got != 4<<20 {
			t.Fatalf("steady slow reader got %d of %d bytes", got, 4<<20)
		}
	})
}
