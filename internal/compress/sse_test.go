package compress

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// countingReader counts the bytes that came over the wire.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// streamDecoder decodes a coded stream incrementally, as a browser does.
func streamDecoder(t *testing.T, ce string, r io.Reader) io.Reader {
	t.Helper()
	switch ce {
	case "":
		return r
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip header: %v", err)
		}
		return zr
	case "br":
		return brotli.NewReader(r)
	case "zstd":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(zr.Close)
		return zr
	}
	t.Fatalf("Content-Encoding %q", ce)
	return nil
}

// TestSSEArrival: every server-sent event reaches the client while the
// stream is open, compressed (sse on) or not (default). The backend sends
// event i+1 only after the client has decoded event i, so an event held
// back anywhere (encoder, proxy, decoder) makes the test time out instead
// of passing by luck. The delay per event (backend write to client
// decode) and the bytes on the wire are logged: the measurement behind
// the sse default in docs/compression.md.
func TestSSEArrival(t *testing.T) {
	t.Parallel()
	const events = 50
	tests := []struct {
		name   string
		sse    bool
		enc    Encoding
		wantCE string
	}{
		{"off (default)", false, Gzip, ""},
		{"gzip", true, Gzip, "gzip"},
		{"br", true, Brotli, "br"},
		{"zstd", true, Zstd, "zstd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCompressor(t, func(o *Options) { o.SSE = tc.sse; o.Encodings = []Encoding{tc.enc} })
			acks := make(chan int)
			var sent [events]time.Time
			done := make(chan struct{})
			defer close(done)
			u := proxyPair(t, c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.Header().Set("Cache-Control", "no-cache")
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				for i := range events {
					if i > 0 {
						select {
						case <-acks:
						case <-r.Context().Done():
							return
						case <-done:
							return
						}
					}
					sent[i] = time.Now()
					fmt.Fprintf(w, "id: %d\nevent: tick\ndata: {\"symbol\":\"ACME\",\"seq\":%d,\"price\":%d.%02d,\"volume\":1200}\n\n", i, i, 100+i%7, i%100)
					w.(http.Flusher).Flush()
				}
			}))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			req.Header.Set("Accept-Encoding", "gzip, br, zstd")
			resp, err := rawClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if ce := resp.Header.Get("Content-Encoding"); ce != tc.wantCE {
				t.Fatalf("Content-Encoding %q, want %q", ce, tc.wantCE)
			}
			wire := &countingReader{r: resp.Body}
			sc := bufio.NewScanner(streamDecoder(t, tc.wantCE, wire))
			delays := make([]time.Duration, 0, events)
			for i := range events {
				var data string
				for sc.Scan() {
					line := sc.Text()
					if line == "" {
						break
					}
					if d, ok := strings.CutPrefix(line, "data: "); ok {
						data = d
					}
				}
				if ctx.Err() != nil || sc.Err() != nil {
					t.Fatalf("event %d did not arrive (err %v, ctx %v): held back", i, sc.Err(), ctx.Err())
				}
				if !strings.Contains(data, fmt.Sprintf(`"seq":%d,`, i)) {
					t.Fatalf("event %d data %q", i, data)
				}
				delays = append(delays, time.Since(sent[i]))
				if i < events-1 {
					select {
					case acks <- i:
					case <-ctx.Done():
						t.Fatalf("backend gone after event %d", i)
					}
				}
			}
			slices.Sort(delays)
			t.Logf("%s: %d events, delay median %v, p90 %v, max %v; %d bytes on the wire (%.0f per event)",
				tc.name, events, delays[events/2], delays[events*9/10], delays[events-1], wire.n.Load(), float64(wire.n.Load())/events)
		})
	}
}
