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
