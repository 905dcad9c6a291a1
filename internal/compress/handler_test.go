package compress

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	big := jsonBody(20 << 10)
	html := bytes.Repeat([]byte("<html><body><p>hello gatehouse</p></body></html>\n"), 100)
	dir := t.TempDir()
	file := filepath.Join(dir, "data.json")
	if err := os.WriteFile(file, big, 0o644); err != nil {
		t.Fatal(err)
	}
	modTime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(file, modTime, modTime); err != nil {
		t.Fatal(err)
	}

	fixed := func(status int, ct string, body []byte, hdr ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if ct != "" {
				w.Header().Set("Content-Type", ct)
			}
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Add(hdr[i], hdr[i+1])
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(status)
			w.Write(body)
		}
	}
	chunked := func(ct string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if ct != "" {
				w.Header().Set("Content-Type", ct)
			}
			for p := body; len(p) > 0; {
				n := min(len(p), 700)
				w.Write(p[:n])
				w.(http.Flusher).Flush()
				p = p[n:]
			}
		}
	}
	serveFile := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(file)
		if err != nil {
			http.Error(w, "no", 500)
			return
		}
		defer f.Close()
		w.Header().Set("Etag", `"v1"`)
		http.ServeContent(w, r, "data.json", modTime, f)
	})

	tests := []struct {
		name    string
		backend http.Handler
		direct  bool // serve the backend handler in-process, without the proxy
		method  string
		hdr     []string // request header pairs
		status  int
		wantCE  string
		want    []byte            // decoded body; nil: not checked
		wantHdr map[string]string // exact values; "" means absent
		vary    []string          // expected Vary field lines
	}{
		{name: "gzip", backend: fixed(200, "application/json", big, "Etag", `"abc"`, "Accept-Ranges", "bytes"),
			hdr: []string{"Accept-Encoding", "gzip"}, status: 200, wantCE: "gzip", want: big,
			wantHdr: map[string]string{"Content-Length": "", "Etag": `W/"abc"`, "Accept-Ranges": ""}, vary: []string{"Accept-Encoding"}},
		{name: "br", backend: fixed(200, "application/json", big), hdr: []string{"Accept-Encoding", "br"}, status: 200, wantCE: "br", want: big},
		{name: "zstd", backend: fixed(200, "application/json; charset=utf-8", big), hdr: []string{"Accept-Encoding", "zstd"}, status: 200, wantCE: "zstd", want: big},
		{name: "browser list picks server preference", backend: fixed(200, "application/json", big),
			hdr: []string{"Accept-Encoding", "gzip, deflate, br, zstd"}, status: 200, wantCE: DefaultEncodings()[0].String(), want: big},
		{name: "no Accept-Encoding: identity but Vary", backend: fixed(200, "application/json", big, "Etag", `"abc"`),
			status: 200, wantCE: "", want: big,
			wantHdr: map[string]string{"Content-Length": strconv.Itoa(len(big)), "Etag": `"abc"`}, vary: []string{"Accept-Encoding"}},
		{name: "below min_size", backend: fixed(200, "text/plain", []byte("short")), hdr: []string{"Accept-Encoding", "gzip"},
			status: 200, wantCE: "", want: []byte("short"), vary: []string{"Accept-Encoding"}},
		{name: "not compressible type", backend: fixed(200, "image/png", big), hdr: []string{"Accept-Encoding", "gzip"},
			status: 200, wantCE: "", want: big, vary: nil},
		{name: "already encoded: no double encoding", backend: fixed(200, "text/plain", big, "Content-Encoding", "gzip"),
			hdr: []string{"Accept-Encoding", "gzip, br"}, status: 200, want: big,
			wantHdr: map[string]string{"Content-Encoding": "gzip", "Content-Length": strconv.Itoa(len(big))}},
		{name: "no-transform", backend: fixed(200, "text/plain", big, "Cache-Control", "public, No-Transform"),
			hdr: []string{"Accept-Encoding", "gzip"}, status: 200, wantCE: "", want: big},
		{name: "Vary merged", backend: fixed(200, "text/plain", big, "Vary", "Origin"),
			hdr: []string{"Accept-Encoding", "gzip"}, status: 200, wantCE: "gzip", want: big, vary: []string{"Origin", "Accept-Encoding"}},
		{name: "Vary not duplicated", backend: fixed(200, "text/plain", big, "Vary", "origin, accept-encoding"),
			hdr: []string{"Accept-Encoding", "gzip"}, status: 200, wantCE: "gzip", want: big, vary: []string{"origin, accept-encoding"}},
		{name: "Vary star kept", backend: fixed(200, "text/plain", big, "Vary", "*"),
			hdr: []string{"Accept-Encoding", "gzip"}, status: 200, wantCE: "gzip", want: big, vary: []string{"*"}},
		{name: "weak ETag stays", backend: fixed(200, "text/plain", big, "Etag", `W/"x"`),
			hdr: []string{"Accept-Encoding", "gzip"}, status: 200, wantCE: "gzip", wantHdr: map[string]string{"Etag": `W/"x"`}},
		{name: "error page compressed", backend: fixed(404, "text/html", html), hdr: []string{"Accept-Encoding", "gzip"},
			status: 404, wantCE: "gzip", want: html},
		{name: "identity preferred by client", backend: fixed(200, "text/plain", big), hdr: []string{"Accept-Encoding", "gzip;q=0.5, identity"},
			status: 200, wantCE: "", want: big},
		{name: "identity;q=0 still gets identity", backend: fixed(200, "text/plain", big), hdr: []string{"Accept-Encoding", "identity;q=0"},
			status: 200, wantCE: "", want: big},
		{name: "chunked stream", backend: chunked("application/json", big), hdr: []string{"Accept-Encoding", "br"},
			status: 200, wantCE: "br", want: big, wantHdr: map[string]string{"Content-Length": ""}},
		{name: "sniffed type", direct: true, backend: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(html) }),
			hdr: []string{"Accept-Encoding", "gzip"}, status: 200, wantCE: "gzip", want: html,
			wantHdr: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{name: "sniffed binary type", direct: true, backend: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(append([]byte("\x89PNG\r\n\x1a\n"), big...))
		}), hdr: []string{"Accept-Encoding", "gzip"}, status: 200, wantCE: "", wantHdr: map[string]string{"Content-Type": "image/png"}},
		{name: "small unknown length gets Content-Length", direct: true, backend: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("abc"))
			w.Write([]byte("def"))
		}), hdr: []string{"Accept-Encoding", "gzip"}, status: 200, wantCE: "", want: []byte("abcdef"),
			wantHdr: map[string]string{"Content-Length": "6"}, vary: []string{"Accept-Encoding"}},
		{name: "large unknown length in small writes", direct: true, backend: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			for p := big; len(p) > 0; p = p[min(len(p), 100):] {
				w.Write(p[:min(len(p), 100)])
			}
		}), hdr: []string{"Accept-Encoding", "zstd"}, status: 200, wantCE: "zstd", want: big},
		{name: "HEAD: same header as GET", backend: fixed(200, "application/json", big, "Etag", `"abc"`), method: http.MethodHead,
			hdr: []string{"Accept-Encoding", "gzip"}, status: 200, wantCE: "gzip", want: []byte{},
			wantHdr: map[string]string{"Content-Length": "", "Etag": `W/"abc"`}, vary: []string{"Accept-Encoding"}},
		{name: "204", backend: fixed(204, "text/plain", nil), hdr: []string{"Accept-Encoding", "gzip"}, status: 204, wantCE: "", vary: nil},
		{name: "304", backend: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Etag", `"abc"`)
			w.WriteHeader(304)
		}), hdr: []string{"Accept-Encoding", "gzip"}, status: 304, wantCE: "", wantHdr: map[string]string{"Etag": `"abc"`}},
		{name: "static file (ReadFrom)", backend: serveFile, hdr: []string{"Accept-Encoding", "gzip"}, status: 200, wantCE: "gzip", want: big,
			wantHdr: map[string]string{"Accept-Ranges": "", "Etag": `W/"v1"`}},
		{name: "static file identity keeps length", backend: serveFile, status: 200, wantCE: "", want: big,
			wantHdr: map[string]string{"Accept-Ranges": "bytes", "Content-Length": strconv.Itoa(len(big)), "Etag": `"v1"`}},
		{name: "Range untouched", backend: serveFile, hdr: []string{"Accept-Encoding", "gzip", "Range", "bytes=0-99"}, status: 206, wantCE: "",
			want: big[:100], wantHdr: map[string]string{"Content-Range": "bytes 0-99/" + strconv.Itoa(len(big)), "Etag": `"v1"`}},
		{name: "Range request answered 200 stays identity", backend: fixed(200, "text/plain", big), hdr: []string{"Accept-Encoding", "gzip", "Range", "bytes=0-9"},
			status: 200, wantCE: "", want: big, vary: []string{"Accept-Encoding"}},
	}
	c := newCompressor(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var u string
			if tc.direct {
				srv := httptest.NewServer(c.Handler(tc.backend))
				t.Cleanup(srv.Close)
				u = srv.URL
			} else {
				u = proxyPair(t, c, tc.backend)
			}
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req, _ := http.NewRequest(method, u+"/x", nil)
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			resp, err := rawClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			ce := resp.Header.Get("Content-Encoding")
			if _, set := tc.wantHdr["Content-Encoding"]; !set && ce != tc.wantCE {
				t.Fatalf("Content-Encoding %q, want %q", ce, tc.wantCE)
			}
			if n := len(resp.Header.Values("Content-Encoding")); n > 1 {
				t.Errorf("%d Content-Encoding lines", n)
			}
			if tc.want != nil {
				got := raw
				if _, set := tc.wantHdr["Content-Encoding"]; !set && method != http.MethodHead {
					got = decode(t, ce, raw)
				}
				if !bytes.Equal(got, tc.want) {
					t.Errorf("body (%d bytes) differs from the expected %d bytes", len(got), len(tc.want))
				}
			}
			for k, v := range tc.wantHdr {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.vary != nil || tc.name == "not compressible type" || tc.name == "204" {
				if got := resp.Header.Values("Vary"); !slices.Equal(got, tc.vary) {
					t.Errorf("Vary = %q, want %q", got, tc.vary)
				}
			}
		})
	}
}

// TestEmptyBodies: codings must still produce a valid (empty) stream when
// the handler decides to stream and writes nothing more.
func TestEmptyStream(t *testing.T) {
	t.Parallel()
	for _, e := range []Encoding{Gzip, Zstd, Brotli} {
		t.Run(e.String(), func(t *testing.T) {
			t.Parallel()
			c := newCompressor(t, func(o *Options) { o.Encodings = []Encoding{e} })
			srv := httptest.NewServer(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.(http.Flusher).Flush() // a stream: decided now, with no data
			})))
			t.Cleanup(srv.Close)
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			req.Header.Set("Accept-Encoding", e.String())
			resp, err := rawClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if ce := resp.Header.Get("Content-Encoding"); ce != e.String() {
				t.Fatalf("Content-Encoding %q", ce)
			}
			if got := decode(t, e.String(), raw); len(got) != 0 {
				t.Errorf("decoded %q", got)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"no encodings", func(o *Options) { o.Encodings = nil }},
		{"identity", func(o *Options) { o.Encodings = []Encoding{Identity} }},
		{"duplicate", func(o *Options) { o.Encodings = []Encoding{Gzip, Gzip} }},
		{"negative min", func(o *Options) { o.MinSize = -1 }},
		{"huge min", func(o *Options) { o.MinSize = MaxMinSize + 1 }},
		{"bad level name", func(o *Options) { o.Level = "max" }},
		{"gzip level", func(o *Options) { o.Levels = map[Encoding]int{Gzip: 10} }},
		{"br level", func(o *Options) { o.Levels = map[Encoding]int{Brotli: 12} }},
		{"zstd level", func(o *Options) { o.Levels = map[Encoding]int{Zstd: 0} }},
		{"type without slash", func(o *Options) { o.Types = []string{"json"} }},
		{"two stars", func(o *Options) { o.Types = []string{"*/*+*"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := DefaultOptions()
			tc.edit(&o)
			if _, err := New(o); err == nil {
				t.Fatal("New accepted invalid options")
			}
		})
	}
}
