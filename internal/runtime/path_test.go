package runtime

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Encoded slashes that hide dot segments would let the router and a
// decoding backend see different paths: refused before routing.
func TestEncodedSlashDotSegmentsRefused(t *testing.T) {
	var hits atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, r.URL.EscapedPath())
	}))
	defer backend.Close()
	cfg := mustParse(t, "listeners: [{address: \"127.0.0.1:0\"}]\nroutes: [{match: {path: /public/*}, upstream: b}]\nupstreams: {b: {targets: [\""+backend.Listener.Addr().String()+"\"]}}\n")
	rt, err := Build(cfg, nil, Options{Logger: discard(), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	front := httptest.NewServer(NewHolder(rt))
	defer front.Close()

	tests := []struct {
		path     string
		want     int
		backendP string
	}{
		{"/public/..%2F..%2Fadmin", http.StatusBadRequest, ""},
		{"/public/a%2F%2Fb", http.StatusBadRequest, ""},
		{"/public/a%2Fb", http.StatusOK, "/public/a%2Fb"},
		{"/public/x", http.StatusOK, "/public/x"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			before := hits.Load()
			req, _ := http.NewRequest(http.MethodGet, front.URL, nil)
			req.URL.Opaque = tc.path // send the path bytes as written
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.want, b)
			}
			if tc.want != http.StatusOK {
				if hits.Load() != before {
					t.Fatal("refused request reached the backend")
				}
				return
			}
			if !strings.HasSuffix(string(b), tc.backendP) {
				t.Fatalf("backend saw %q, want %q", b, tc.backendP)
			}
		})
	}
}
