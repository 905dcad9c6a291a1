package admin

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/runtime"
)

// adminFixture is an admin API over a real runtime built from a config,
// with a reload function the test controls.
type adminFixture struct {
	holder  *runtime.Holder
	handler *Handler
	reloads atomic.Int64
	// reloadErr, when set, is what the next reloads return.
	reloadErr error
}

func testConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "gatehouse.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func newFixture(t *testing.T, yaml, token string) *adminFixture {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	rt, err := runtime.Build(testConfig(t, yaml), nil, runtime.Options{Logger: logger})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	f := &adminFixture{holder: runtime.NewHolder(rt)}
	t.Cleanup(func() { f.holder.Current().Close() })
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h, err := New(Options{
		Holder: f.holder,
		Token:  token,
		Reload: func(string) (uint64, error) {
			f.reloads.Add(1)
			if f.reloadErr != nil {
				return 0, f.reloadErr
			}
			cur := f.holder.Current()
			next, err := runtime.Build(cur.Config(), cur, runtime.Options{Logger: logger})
			if err != nil {
				return 0, err
			}
			f.holder.Swap(next)
			return next.Generation(), nil
		},
		Listeners: func() map[string]net.Addr {
			return map[string]net.Addr{"web": &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}}
		},
		Version: "gatehouse test",
		Started: start,
		Now:     func() time.Time { return start.Add(90 * time.Second) },
		Logger:  logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.handler = h
	return f
}

// do sends one request through the handler.
func (f *adminFixture) do(t *testing.T, method, path, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://admin"+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String(), rec.Header()
}

var errTest = errors.New("test")

const minimalConfig = `
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /* }
    respond: { body: "hi" }
`
