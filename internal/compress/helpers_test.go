package compress

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// newCompressor builds a Compressor from DefaultOptions changed by edit.
func newCompressor(t testing.TB, edit func(*Options)) *Compressor {
	t.Helper()
	o := DefaultOptions()
	if edit != nil {
		edit(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// proxyPair starts backend and, in front of it, the compressor wrapping
// a real httputil.ReverseProxy (whose flushing is what the gateway's proxy
// does). It returns the front server's URL.
func proxyPair(t testing.TB, c *Compressor, backend http.Handler) string {
	t.Helper()
	be := httptest.NewServer(backend)
	t.Cleanup(be.Close)
	u, _ := url.Parse(be.URL)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }}
	front := httptest.NewServer(c.Handler(rp))
	t.Cleanup(front.Close)
	return front.URL
}

// rawClient never decodes, never uses proxies.
func rawClient(t testing.TB) *http.Client {
	tr := &http.Transport{DisableCompression: true, Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// decode undoes one content coding, failing on a malformed stream.
func decode(t testing.TB, ce string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch ce {
	case "", "identity":
		return body
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unexpected Content-Encoding %q", ce)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", ce, err)
	}
	return out
}

// jsonBody returns about n bytes of realistic JSON.
func jsonBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < n-64; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"item-%d","price":%d.%02d,"tags":["alpha","beta","tag-%d"],"active":%t}`,
			i, i*7919%10007, i%997, i%100, i%13, i%3 == 0)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}
