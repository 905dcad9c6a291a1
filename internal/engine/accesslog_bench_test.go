package engine

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// BenchmarkAccessLogNative measures what the access log adds to a request
// served natively: the work of runtime.logNative (one clock read, the
// entry built from the request's own RequestInfo) and observe.AccessLog's
// Log (a JSON line appended to the shared buffer under its lock; the
// buffer goes to the output every 64 KiB or 100 ms, in the amortised
// cost here). "discard" leaves out the output's write; "file" writes to a
// real file, as an operator would configure it.
func BenchmarkAccessLogNative(b *testing.B) {
	outputs := []struct {
		name string
		open func(b *testing.B) io.Writer
	}{
		{"discard", func(*testing.B) io.Writer { return io.Discard }},
		{"file", func(b *testing.B) io.Writer {
			f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = f.Close() })
			return f
		}},
	}
	for _, o := range outputs {
		b.Run(o.name, func(b *testing.B) {
			al := observe.NewAccessLog(o.open(b))
			b.Cleanup(func() { _ = al.Close() })
			info := observe.RequestInfo{
				Start:    time.Now(),
				Scheme:   "http",
				Route:    "route-0",
				ClientIP: netip.MustParseAddr("127.0.0.1"),
				ID:       "bog836q4q6e8d0iihth38j0n24",
				Upstream: "default",
				Target:   "127.0.0.1:18080",
			}
			b.ReportAllocs()
			for b.Loop() {
				e := observe.AccessEntry{
					Info:     &info,
					Method:   "GET",
					Host:     "127.0.0.1:18081",
					Path:     "/bytes/1024",
					Status:   200,
					BytesIn:  0,
					BytesOut: 1024,
					Duration: time.Since(info.Start),
				}
				al.Log(&e)
			}
		})
	}
}
