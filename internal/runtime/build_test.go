package runtime

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mustParse(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return cfg
}

// Every example configuration compiles into a runtime, so none rots.
func TestExamplesCompile(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	// Secrets the examples take from the environment.
	t.Setenv("INFERENCE_API_KEY", "test-key")
	t.Setenv("ORDERS_API_TOKEN", "test-token")
	t.Setenv("JWT_SECRET", "an-example-secret-of-at-least-32-bytes")
	t.Setenv("STICKY_SECRET", "a-sticky-secret-of-32-characters")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := config.Load(f)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			rt, err := Build(cfg, nil, Options{Logger: discard(), DryRun: true})
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			for _, w := range rt.Warnings() {
				t.Errorf("example has a warning: %v", w)
			}
			rt.Close()
		})
	}
}

func TestBuildErrorsArePositioned(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{
			name: "unknown middleware",
			yaml: "listeners: [{address: \"127.0.0.1:0\"}]\nroutes:\n  - respond: {body: x}\n    middleware:\n      - nosuch: {}\n",
			want: `test.yaml:5:`,
		},
		{
			name: "bad middleware setting",
			yaml: "listeners: [{address: \"127.0.0.1:0\"}]\nroutes:\n  - respond: {body: x}\n    middleware:\n      - headers: {request: {sett: {A: b}}}\n",
			want: `test.yaml:5:`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, tc.yaml)
			_, err := Build(cfg, nil, Options{Logger: discard(), DryRun: true})
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %q does not start with %q", err, tc.want)
			}
		})
	}
}

const poolYAML = `
listeners: [{address: "127.0.0.1:0"}]
routes:
  - match: {path: /a/*}
    upstream: a
  - match: {path: /b/*}
    upstream: b
upstreams:
  a: {targets: ["127.0.0.1:1"]}
  b: {targets: ["%s"]}
`

// A reload keeps pools whose identity is unchanged (connections and state
// survive) and replaces the others.
func TestBuildReusesUnchangedPools(t *testing.T) {
	cfg1 := mustParse(t, strings.Replace(poolYAML, "%s", "127.0.0.1:2", 1))
	rt1, err := Build(cfg1, nil, Options{Logger: discard(), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg2 := mustParse(t, strings.Replace(poolYAML, "%s", "127.0.0.1:3", 1))
	rt2, err := Build(cfg2, rt1, Options{Logger: discard(), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rt1.pools["a"] != rt2.pools["a"] {
		t.Error("unchanged upstream a got a new pool")
	}
	if rt1.pools["b"] == rt2.pools["b"] {
		t.Error("changed upstream b kept its old pool")
	}
	if rt2.Generation() <= rt1.Generation() {
		t.Errorf("generation %d not after %d", rt2.Generation(), rt1.Generation())
	}
}

// A request pinned to the old runtime finishes on it after a swap; the old
// runtime is released only once that request is done.
func TestHolderSwapDrains(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "old")
	}))
	defer backend.Close()
	cfg1 := mustParse(t, "listeners: [{address: \"127.0.0.1:0\"}]\nroutes: [{upstream: b}]\nupstreams: {b: {targets: [\""+backend.Listener.Addr().String()+"\"]}}\n")
	rt1, err := Build(cfg1, nil, Options{Logger: discard(), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHolder(rt1)
	front := httptest.NewServer(h)
	defer front.Close()

	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(front.URL + "/x")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{string(b), err}
	}()
	<-entered

	cfg2 := mustParse(t, "listeners: [{address: \"127.0.0.1:0\"}]\nroutes: [{respond: {body: new}}]\n")
	rt2, err := Build(cfg2, rt1, Options{Logger: discard(), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	h.Swap(rt2)

	resp, err := http.Get(front.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "new" {
		t.Fatalf("new request got %q, want the new runtime's answer", b)
	}
	select {
	case <-rt1.drained:
		t.Fatal("old runtime drained while its request was in flight")
	default:
	}
	close(release)
	r := <-done
	if r.err != nil || r.body != "old" {
		t.Fatalf("in-flight request: %q, %v", r.body, r.err)
	}
	select {
	case <-rt1.drained:
	case <-time.After(5 * time.Second):
		t.Fatal("old runtime not drained after its last request")
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
