package compress

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// TestConfigFromFile decodes settings as written in a file, including the
// on/off spelling of sse and a size with a unit.
func TestConfigFromFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entry   string
		wantErr string
	}{
		{"defaults", `- compress:`, ""},
		{"full", `- compress: { encodings: [br, zstd, gzip], min_size: 1KB, types: [text/*, application/json], level: default, sse: off }`, ""},
		{"sse on", `- compress: { sse: on }`, ""},
		{"levels", `- compress: { levels: { gzip: 6, br: 5, zstd: 3 } }`, ""},
		{"unknown coding", `- compress: { encodings: [deflate] }`, "unknown content coding"},
		{"duplicate", `- compress: { encodings: [gzip, gzip] }`, "listed twice"},
		{"bad level name", `- compress: { level: max }`, "level"},
		{"level out of range", `- compress: { levels: { gzip: 12 } }`, "out of range"},
		{"level for unlisted coding", `- compress: { encodings: [gzip], levels: { br: 5 } }`, "not in encodings"},
		{"bad type", `- compress: { types: [json] }`, "not a media type"},
		{"min_size too big", `- compress: { min_size: 2MB }`, "at most 1MB"},
		{"bad sse", `- compress: { sse: maybe }`, "not on or off"},
		{"max_streams", `- compress: { max_streams: 64 }`, ""},
		{"max_streams unbounded", `- compress: { max_streams: 0 }`, ""},
		{"max_streams negative", `- compress: { max_streams: -1 }`, "max_streams: -1 is negative"},
		{"unknown key", `- compress: { gzip: true }`, "gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := "listeners: [ { address: \"127.0.0.1:0\" } ]\nroutes:\n  - match: { path: /* }\n    respond: { status: 200 }\n    middleware:\n      " + tc.entry + "\n"
			c, err := config.Parse([]byte(doc), "test.yaml")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err = New(c.Routes[0].Middleware[0], middleware.Env{})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New error = %v, want it to mention %q", err, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), "test.yaml:"):
				t.Errorf("error %q carries no position", err)
			}
		})
	}
}

// TestRegistered: the middleware is found by its config name and works
// from a spec built in code (quick mode).
func TestRegistered(t *testing.T) {
	t.Parallel()
	ctor, ok := middleware.Lookup(Name)
	if !ok {
		t.Fatal("compress not registered")
	}
	mw, err := ctor(config.NewMiddlewareSpec(Name, map[string]any{"encodings": []string{"gzip"}, "min_size": "10"}), middleware.Env{})
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("hello gatehouse ", 100)
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	})))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding = %q", ce)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || string(got) != body {
		t.Fatalf("decoded %d bytes, err %v", len(got), err)
	}
}
