package action

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// staticTree builds a root with files, dotfiles, a directory without an
// index and symlinks inside and outside, next to an outside secret.
func staticTree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	files := map[string]string{
		"root/index.html":               "<h1>home</h1>",
		"root/a.txt":                    "hello world",
		"root/.env":                     "SECRET=1",
		"root/.well-known/security.txt": "Contact: x",
		"root/sub/b.txt":                "b",
		"root/sub/<script>&.txt":        "x",
		"root/sub/.hidden":              "h",
		"root/docs/index.html":          "docs",
		"outside/secret.txt":            "outside secret",
	}
	for name, body := range files {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(base, "outside/secret.txt"), filepath.Join(root, "link-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(root, "dir-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(root, "link-in")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestStatic(t *testing.T) {
	t.Parallel()
	root := staticTree(t)
	plain, err := NewStatic(config.Static{Root: root}, "")
	if err != nil {
		t.Fatal(err)
	}
	browse, err := NewStatic(config.Static{Root: root, Browse: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	stripped, err := NewStatic(config.Static{Root: root}, "/static/")
	if err != nil {
		t.Fatal(err)
	}
	srvPlain, srvBrowse, srvStrip := httptest.NewServer(plain), httptest.NewServer(browse), httptest.NewServer(stripped)
	// Subtests run in parallel after this function returns: Cleanup, not defer.
	t.Cleanup(srvPlain.Close)
	t.Cleanup(srvBrowse.Close)
	t.Cleanup(srvStrip.Close)
	etag := func() string {
		resp, err := srvPlain.Client().Get(srvPlain.URL + "/a.txt")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Etag")
	}()
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("no strong ETag: %q", etag)
	}

	tests := []struct {
		name     string
		srv      *httptest.Server
		method   string
		target   string // sent byte for byte
		header   [2]string
		status   int
		body     string // exact, or "" to skip
		contains string
		absent   string
		hdr      [2]string // expected response header
	}{
		{name: "index at root", srv: srvPlain, target: "/", status: 200, body: "<h1>home</h1>"},
		{name: "file", srv: srvPlain, target: "/a.txt", status: 200, body: "hello world", hdr: [2]string{"Content-Type", "text/plain; charset=utf-8"}},
		{name: "head", srv: srvPlain, method: "HEAD", target: "/a.txt", status: 200, hdr: [2]string{"Content-Length", "11"}},
		{name: "range", srv: srvPlain, target: "/a.txt", header: [2]string{"Range", "bytes=0-4"}, status: 206, body: "hello", hdr: [2]string{"Content-Range", "bytes 0-4/11"}},
		{name: "if-none-match", srv: srvPlain, target: "/a.txt", header: [2]string{"If-None-Match", etag}, status: 304},
		{name: "dot dot", srv: srvPlain, target: "/../outside/secret.txt", status: 404, absent: "outside secret"},
		{name: "encoded dot dot", srv: srvPlain, target: "/%2e%2e/outside/secret.txt", status: 404, absent: "outside secret"},
		{name: "encoded dot dot deep", srv: srvPlain, target: "/sub/%2E%2E/%2e%2e/outside/secret.txt", status: 404},
		{name: "symlink out", srv: srvPlain, target: "/link-out", status: 404, absent: "outside secret"},
		{name: "symlinked dir out", srv: srvPlain, target: "/dir-out/secret.txt", status: 404, absent: "outside secret"},
		{name: "symlink in", srv: srvPlain, target: "/link-in", status: 200, body: "hello world"},
		{name: "dotfile", srv: srvPlain, target: "/.env", status: 404, absent: "SECRET"},
		{name: "dotfile via dots", srv: srvPlain, target: "/sub/../.env", status: 404},
		{name: "encoded dotfile", srv: srvPlain, target: "/%2eenv", status: 404},
		{name: "well-known", srv: srvPlain, target: "/.well-known/security.txt", status: 200, body: "Contact: x"},
		{name: "dir redirect", srv: srvPlain, target: "/sub?x=1", status: 301, hdr: [2]string{"Location", "sub/?x=1"}},
		{name: "dir index", srv: srvPlain, target: "/docs/", status: 200, body: "docs"},
		{name: "listing off", srv: srvPlain, target: "/sub/", status: 403, body: "403 Forbidden\n"},
		{name: "listing on", srv: srvBrowse, target: "/sub/", status: 200, contains: "&lt;script&gt;&amp;.txt", absent: ".hidden"},
		{name: "listing escapes links", srv: srvBrowse, target: "/sub/", status: 200, contains: `href="./%3Cscript%3E&amp;.txt"`},
		{name: "file with slash", srv: srvPlain, target: "/a.txt/", status: 404},
		{name: "missing", srv: srvPlain, target: "/nope", status: 404, body: "404 Not Found\n"},
		{name: "post", srv: srvPlain, method: "POST", target: "/a.txt", status: 405, hdr: [2]string{"Allow", "GET, HEAD"}},
		{name: "strip prefix", srv: srvStrip, target: "/static/a.txt", status: 200, body: "hello world"},
		{name: "strip prefix root", srv: srvStrip, target: "/static/", status: 200, body: "<h1>home</h1>"},
		{name: "strip prefix dir redirect", srv: srvStrip, target: "/static", status: 301, hdr: [2]string{"Location", "static/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, tt.srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			target, query, _ := strings.Cut(tt.target, "?")
			req.URL.Opaque, req.URL.RawQuery = target, query
			if tt.header[0] != "" {
				req.Header.Set(tt.header[0], tt.header[1])
			}
			client := *tt.srv.Client()
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tt.status)
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if tt.contains != "" && !strings.Contains(body, tt.contains) {
				t.Errorf("body %q lacks %q", body, tt.contains)
			}
			if tt.absent != "" && strings.Contains(body, tt.absent) {
				t.Errorf("body %q contains %q", body, tt.absent)
			}
			if tt.hdr[0] != "" && resp.Header.Get(tt.hdr[0]) != tt.hdr[1] {
				t.Errorf("%s = %q, want %q", tt.hdr[0], resp.Header.Get(tt.hdr[0]), tt.hdr[1])
			}
		})
	}
}

func TestStaticErrors(t *testing.T) {
	t.Parallel()
	root := staticTree(t)
	tests := []struct {
		name  string
		cfg   config.Static
		strip string
	}{
		{"no root", config.Static{}, ""},
		{"missing root", config.Static{Root: filepath.Join(root, "nope")}, ""},
		{"root is a file", config.Static{Root: filepath.Join(root, "a.txt")}, ""},
		{"index with slash", config.Static{Root: root, Index: []string{"a/index.html"}}, ""},
		{"index dot dot", config.Static{Root: root, Index: []string{".."}}, ""},
		{"relative strip", config.Static{Root: root}, "static"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewStatic(tt.cfg, tt.strip); !errors.Is(err, ErrConfig) {
				t.Errorf("error = %v, want ErrConfig", err)
			}
		})
	}
}

// TestStaticPrecompressed: FILE.br/.zst/.gz are served to clients that
// accept them, with the original's type, their own validators and Range
// over their own bytes.
func TestStaticPrecompressed(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	files := map[string]string{
		"app.js":          "console.log('original')",
		"app.js.br":       "BROTLI-BYTES",
		"app.js.zst":      "ZSTD-BYTES",
		"app.js.gz":       "GZIP-BYTES",
		"only-gz.css":     "body{}",
		"only-gz.css.gz":  "GZ-CSS",
		"index.html":      "<p>home</p>",
		"index.html.gz":   "GZ-HOME",
		"noext":           "<html><body>x</body></html>",
		"noext.br":        "BR-NOEXT",
		"dir.br/keep.txt": "a directory named like a variant",
		"dir":             "",
	}
	for name, body := range files {
		if name == "dir" {
			continue
		}
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "dir"), []byte("file called dir"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := NewStatic(config.Static{Root: root, Precompressed: []string{"br", "zstd", "gzip"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	off, err := NewStatic(config.Static{Root: root}, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, srvOff := httptest.NewServer(h), httptest.NewServer(off)
	t.Cleanup(srv.Close)
	t.Cleanup(srvOff.Close)
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	do := func(t *testing.T, base, method, p string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+p, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	brResp, _ := do(t, srv.URL, http.MethodGet, "/app.js", "Accept-Encoding", "br")
	brTag := brResp.Header.Get("Etag")

	tests := []struct {
		name     string
		base     string
		method   string
		path     string
		hdr      []string
		status   int
		body     string
		ce       string
		ct       string
		vary     string
		etagSufx string
		length   string
	}{
		{name: "no Accept-Encoding: original", path: "/app.js", status: 200, body: "console.log('original')", ce: "", ct: "text/javascript; charset=utf-8", vary: "Accept-Encoding"},
		{name: "br preferred", path: "/app.js", hdr: []string{"Accept-Encoding", "gzip, deflate, br, zstd"}, status: 200, body: "BROTLI-BYTES", ce: "br",
			ct: "text/javascript; charset=utf-8", vary: "Accept-Encoding", etagSufx: `-br"`, length: "12"},
		{name: "client weight", path: "/app.js", hdr: []string{"Accept-Encoding", "br;q=0.1, zstd"}, status: 200, body: "ZSTD-BYTES", ce: "zstd", etagSufx: `-zstd"`},
		{name: "missing variant falls back", path: "/only-gz.css", hdr: []string{"Accept-Encoding", "br, gzip"}, status: 200, body: "GZ-CSS", ce: "gzip", ct: "text/css; charset=utf-8"},
		{name: "nothing acceptable exists", path: "/only-gz.css", hdr: []string{"Accept-Encoding", "br"}, status: 200, body: "body{}", ce: "", vary: "Accept-Encoding"},
		{name: "index file variant", path: "/", hdr: []string{"Accept-Encoding", "gzip"}, status: 200, body: "GZ-HOME", ce: "gzip", ct: "text/html; charset=utf-8"},
		{name: "type sniffed from the original", path: "/noext", hdr: []string{"Accept-Encoding", "br"}, status: 200, body: "BR-NOEXT", ce: "br", ct: "text/html; charset=utf-8"},
		{name: "a directory is no variant", path: "/dir", hdr: []string{"Accept-Encoding", "br"}, status: 200, body: "file called dir", ce: ""},
		{name: "Range on the variant", path: "/app.js", hdr: []string{"Accept-Encoding", "br", "Range", "bytes=0-5"}, status: 206, body: "BROTLI", ce: "br", length: "6"},
		{name: "conditional on the variant", path: "/app.js", hdr: []string{"Accept-Encoding", "br", "If-None-Match", brTag}, status: 304, body: ""},
		{name: "original's validator does not match the variant", path: "/app.js", hdr: []string{"Accept-Encoding", "gzip", "If-None-Match", brTag}, status: 200, body: "GZIP-BYTES", ce: "gzip"},
		{name: "HEAD", method: http.MethodHead, path: "/app.js", hdr: []string{"Accept-Encoding", "br"}, status: 200, body: "", ce: "br", length: "12"},
		{name: "off: never a variant, no Vary", base: "off", path: "/app.js", hdr: []string{"Accept-Encoding", "br"}, status: 200, body: "console.log('original')", ce: "", vary: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base, method := srv.URL, tc.method
			if tc.base == "off" {
				base = srvOff.URL
			}
			if method == "" {
				method = http.MethodGet
			}
			resp, body := do(t, base, method, tc.path, tc.hdr...)
			if resp.StatusCode != tc.status || body != tc.body {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if ce := resp.Header.Get("Content-Encoding"); tc.status != 304 && ce != tc.ce {
				t.Errorf("Content-Encoding %q, want %q", ce, tc.ce)
			}
			if tc.ct != "" && resp.Header.Get("Content-Type") != tc.ct {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tc.ct)
			}
			if (tc.vary != "" || tc.base == "off") && resp.Header.Get("Vary") != tc.vary {
				t.Errorf("Vary %q, want %q", resp.Header.Get("Vary"), tc.vary)
			}
			if tc.etagSufx != "" && !strings.HasSuffix(resp.Header.Get("Etag"), tc.etagSufx) {
				t.Errorf("Etag %q, want suffix %s", resp.Header.Get("Etag"), tc.etagSufx)
			}
			if tc.length != "" && resp.Header.Get("Content-Length") != tc.length {
				t.Errorf("Content-Length %q, want %s", resp.Header.Get("Content-Length"), tc.length)
			}
		})
	}
}

func TestStaticPrecompressedConfig(t *testing.T) {
	t.Parallel()
	for _, bad := range [][]string{{"deflate"}, {"gzip", "gzip"}, {"identity"}} {
		if _, err := NewStatic(config.Static{Root: t.TempDir(), Precompressed: bad}, ""); !errors.Is(err, ErrConfig) {
			t.Errorf("precompressed %q: err %v, want ErrConfig", bad, err)
		}
	}
}
