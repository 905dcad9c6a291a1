package compress

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"testing"
)

// discardWriter is a minimal http.ResponseWriter that counts bytes: the
// benchmarks measure the middleware, not a server.
type discardWriter struct {
	h http.Header
	n int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *discardWriter) Flush()                      {}

// BenchmarkHandler: the compress middleware on a 100 KB JSON response
// (Content-Length known, as from a backend) per coding at the default
// level; MB/s is of uncompressed input; ratio = output/input.
func BenchmarkHandler(b *testing.B) {
	body := jsonBody(100 << 10)
	cl := strconv.Itoa(len(body))
	for _, e := range []Encoding{Identity, Gzip, Zstd, Brotli} {
		b.Run(e.String(), func(b *testing.B) {
			c := newCompressor(b, nil)
			h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", cl)
				w.Write(body)
			}))
			req, _ := http.NewRequest(http.MethodGet, "/", nil)
			if e != Identity {
				req.Header.Set("Accept-Encoding", e.String())
			}
			dw := &discardWriter{h: http.Header{}}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				clear(dw.h)
				dw.n = 0
				h.ServeHTTP(dw, req)
			}
			b.ReportMetric(float64(dw.n)/float64(len(body)), "ratio")
		})
	}
}

// BenchmarkLevels: encoder cost and ratio per library level on 100 KB of
// JSON, the measurement behind the level names (docs/compression.md).
func BenchmarkLevels(b *testing.B) {
	body := jsonBody(100 << 10)
	levels := map[Encoding][]int{Gzip: {1, 4, 5, 6, 9}, Zstd: {1, 3, 7, 19}, Brotli: {0, 1, 3, 4, 5, 6, 11}}
	for _, e := range []Encoding{Gzip, Zstd, Brotli} {
		for _, l := range levels[e] {
			b.Run(fmt.Sprintf("%s/%d", e, l), func(b *testing.B) {
				p, err := newEncoderPool(e, l)
				if err != nil {
					b.Fatal(err)
				}
				cw := &countWriter{}
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					cw.n = 0
					enc, _ := p.get(cw)
					enc.Write(body)
					enc.Close()
					p.put(enc)
				}
				b.ReportMetric(float64(cw.n)/float64(len(body)), "ratio")
			})
		}
	}
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// BenchmarkOpenStreamMemory measures the heap an open (flushed, not yet
// closed) compressed stream holds: what each idle SSE connection would
// cost with sse: on. Reported as B/stream.
func BenchmarkOpenStreamMemory(b *testing.B) {
	const streams = 100
	event := []byte(`data: {"symbol":"ACME","price":123.45,"volume":1200,"ts":"2024-05-01T12:00:00Z"}` + "\n\n")
	for _, e := range []Encoding{Gzip, Zstd, Brotli} {
		b.Run(e.String(), func(b *testing.B) {
			c := newCompressor(b, nil)
			var per float64
			for b.Loop() {
				encs := make([]encoder, 0, streams)
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for range streams {
					// Fresh encoders, as under load the pool is empty.
					p, _ := newEncoderPool(e, c.pools[e].level)
					enc, _ := p.get(io.Discard)
					enc.Write(event)
					enc.Flush()
					encs = append(encs, enc)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				per = float64(after.HeapInuse-before.HeapInuse) / streams
				runtime.KeepAlive(encs)
			}
			b.ReportMetric(per, "B/stream")
		})
	}
}
