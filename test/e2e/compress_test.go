package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// decodeBody undoes one content coding.
func decodeBody(t *testing.T, ce string, r io.Reader) io.Reader {
	t.Helper()
	switch ce {
	case "":
		return r
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip: %v", err)
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
	t.Fatalf("unexpected Content-Encoding %q", ce)
	return nil
}

// TestCompress: the compress middleware through the real binary: each
// coding decodes to the backend's bytes, Vary is set for every client,
// backend-encoded bodies and Range responses pass untouched.
func TestCompress(t *testing.T) {
	var sb strings.Builder
	for i := 0; sb.Len() < 100<<10; i++ {
		fmt.Fprintf(&sb, `{"id":%d,"name":"item-%d","tags":["a","b"]},`, i, i*31%1009)
	}
	body := []byte("[" + strings.TrimSuffix(sb.String(), ",") + "]")
	gz := func() []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		return b.Bytes()
	}()
	mod := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Etag", `"v1"`)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		case "/encoded":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz)
		case "/file":
			w.Header().Set("Content-Type", "application/json")
			http.ServeContent(w, r, "file.json", mod, bytes.NewReader(body))
		}
	}))
	t.Cleanup(be.Close)
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /* }
    middleware:
      - compress: { encodings: [br, zstd, gzip], min_size: 1KB, types: [text/*, application/json], level: default, sse: off }
    upstream: app
upstreams:
  app: { targets: [ "%s" ] }
`, strings.TrimPrefix(be.URL, "http://")))
	c := newClient(t)
	tests := []struct {
		name, path, ae, rng string
		status              int
		wantCE              string
		wantBody            []byte // decoded
		wantEtag            string
	}{
		{name: "gzip", path: "/json", ae: "gzip", status: 200, wantCE: "gzip", wantBody: body, wantEtag: `W/"v1"`},
		{name: "br", path: "/json", ae: "br", status: 200, wantCE: "br", wantBody: body, wantEtag: `W/"v1"`},
		{name: "zstd", path: "/json", ae: "zstd", status: 200, wantCE: "zstd", wantBody: body, wantEtag: `W/"v1"`},
		{name: "server preference", path: "/json", ae: "gzip, deflate, br, zstd", status: 200, wantCE: "br", wantBody: body},
		{name: "identity", path: "/json", status: 200, wantCE: "", wantBody: body, wantEtag: `"v1"`},
		{name: "no double encoding", path: "/encoded", ae: "gzip, br", status: 200, wantCE: "gzip", wantBody: body},
		{name: "Range untouched", path: "/file", ae: "gzip, br", rng: "bytes=10-19", status: 206, wantCE: "", wantBody: body[10:20]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, inst.URL(tc.path), nil)
			if tc.ae != "" {
				req.Header.Set("Accept-Encoding", tc.ae)
			}
			if tc.rng != "" {
				req.Header.Set("Range", tc.rng)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			ces := resp.Header.Values("Content-Encoding")
			if ce := strings.Join(ces, ","); ce != tc.wantCE {
				t.Fatalf("Content-Encoding %q, want %q", ce, tc.wantCE)
			}
			got, err := io.ReadAll(decodeBody(t, tc.wantCE, resp.Body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !bytes.Equal(got, tc.wantBody) {
				t.Fatalf("decoded %d bytes, want %d", len(got), len(tc.wantBody))
			}
			if tc.path == "/json" && resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("Vary %q", resp.Header.Values("Vary"))
			}
			if tc.wantEtag != "" && resp.Header.Get("Etag") != tc.wantEtag {
				t.Errorf("Etag %q, want %q", resp.Header.Get("Etag"), tc.wantEtag)
			}
		})
	}
}

// TestCompressSSE: with sse: on, a compressed event stream still delivers
// each event as it is sent. The backend sends event i only after the
// client decoded event i-1: a held-back event times the test out.
func TestCompressSSE(t *testing.T) {
	const events = 10
	acks := make(chan int)
	testDone := make(chan struct{})
	defer close(testDone)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for i := range events {
			if i > 0 {
				select {
				case <-acks:
				case <-r.Context().Done():
					return
				case <-testDone:
					return
				}
			}
			fmt.Fprintf(w, "id: %d\ndata: {\"seq\":%d,\"text\":\"token %d\"}\n\n", i, i, i)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(be.Close)
	for _, tc := range []struct{ sse, ae, wantCE string }{{"on", "gzip", "gzip"}, {"on", "br", "br"}, {"on", "zstd", "zstd"}, {"off", "gzip", ""}} {
		t.Run(tc.sse+"/"+tc.ae, func(t *testing.T) {
			inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /events }
    middleware:
      - compress: { sse: %s }
    upstream: sse
upstreams:
  sse: { targets: [ "%s" ] }
`, tc.sse, strings.TrimPrefix(be.URL, "http://")))
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, inst.URL("/events"), nil)
			req.Header.Set("Accept-Encoding", tc.ae)
			c := newClient(t)
			c.Timeout = 0 // bounded by ctx
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if ce := resp.Header.Get("Content-Encoding"); ce != tc.wantCE {
				t.Fatalf("Content-Encoding %q, want %q", ce, tc.wantCE)
			}
			sc := bufio.NewScanner(decodeBody(t, tc.wantCE, resp.Body))
			start := time.Now()
			for i := range events {
				var data string
				for sc.Scan() {
					line := sc.Text()
					if line == "" {
						break
					}
					data, _ = strings.CutPrefix(line, "data: ")
				}
				if ctx.Err() != nil || sc.Err() != nil {
					t.Fatalf("event %d not delivered (%v, %v): held back", i, sc.Err(), ctx.Err())
				}
				if !strings.Contains(data, fmt.Sprintf(`"seq":%d,`, i)) {
					t.Fatalf("event %d: data %q", i, data)
				}
				if i < events-1 {
					select {
					case acks <- i:
					case <-ctx.Done():
						t.Fatalf("backend gone after event %d", i)
					}
				}
			}
			t.Logf("%d events in %v", events, time.Since(start))
		})
	}
}

// TestCompressStaticPrecompressed: a static route serves FILE.br to a
// client that accepts br, through the binary, and the original otherwise.
func TestCompressStaticPrecompressed(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	bw := brotli.NewWriter(&b)
	orig := strings.Repeat("console.log('gatehouse');\n", 200)
	bw.Write([]byte(orig))
	bw.Close()
	if err := os.WriteFile(filepath.Join(dir, "app.js"), []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.js.br"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /assets/* }
    middleware:
      - compress: {}
    static: { root: %q, precompressed: [br, zstd, gzip] }
`, dir))
	c := newClient(t)
	for _, tc := range []struct{ ae, wantCE string }{{"br, gzip", "br"}, {"", ""}, {"gzip", "gzip"}} {
		t.Run("ae="+tc.ae, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, inst.URL("/assets/app.js"), nil)
			if tc.ae != "" {
				req.Header.Set("Accept-Encoding", tc.ae)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if ce := resp.Header.Get("Content-Encoding"); ce != tc.wantCE {
				t.Fatalf("Content-Encoding %q, want %q", ce, tc.wantCE)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
				t.Errorf("Content-Type %q", ct)
			}
			if v := resp.Header.Get("Vary"); v != "Accept-Encoding" {
				t.Errorf("Vary %q", resp.Header.Values("Vary"))
			}
			got, err := io.ReadAll(decodeBody(t, tc.wantCE, resp.Body))
			if err != nil || string(got) != orig {
				t.Fatalf("decoded %d bytes (err %v), want the original %d", len(got), err, len(orig))
			}
		})
	}
}
