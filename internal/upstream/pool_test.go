package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

func TestPoolUnixSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "b.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "unix:"+r.Host+r.URL.Path)
	}))
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	p, err := NewPool("app", config.Upstream{Targets: []string{"unix:" + sock}}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tg, err := p.Pick(&PickContext{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+tg.URLHost()+"/x", nil)
	req.Host = tg.HostHeader()
	res, err := p.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if string(body) != "unix:localhost/x" {
		t.Fatalf("body %q", body)
	}
}

func TestPoolDialsOnlyTargets(t *testing.T) {
	t.Parallel()
	p, err := NewPool("app", config.Upstream{Targets: []string{"127.0.0.1:1"}}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://evil.example/", nil)
	_, err = p.Transport().RoundTrip(req)
	if !errors.Is(err, ErrUnknownDialAddress) {
		t.Fatalf("err = %v, want ErrUnknownDialAddress", err)
	}
}

func TestPoolConnectTimeout(t *testing.T) {
	t.Parallel()
	// No address blackholes portably, so check the plumbing: a 1ns bound
	// carried by the request context makes the dial time out at once.
	p, err := NewPool("app", config.Upstream{Targets: []string{"127.0.0.1:9"}}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithConnectTimeout(context.Background(), time.Nanosecond)
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:9/", nil)
	start := time.Now()
	_, err = p.Transport().RoundTrip(req)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a net.Error timeout", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %v", el)
	}
}

func TestPoolEmpty(t *testing.T) {
	t.Parallel()
	p, err := NewPool("none", config.Upstream{}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Pick(&PickContext{}); !errors.Is(err, protocol.ErrNoTarget) {
		t.Fatalf("err = %v, want ErrNoTarget", err)
	}
}

func TestNewPoolErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  config.Upstream
	}{
		{"bad target", config.Upstream{Targets: []string{"nope"}}},
		{"duplicate", config.Upstream{Targets: []string{"h:1", "http://h:1"}}},
		{"policy", config.Upstream{Targets: []string{"h:1"}, Policy: "magic"}},
		{"negative", config.Upstream{Targets: []string{"h:1"}, MaxIdlePerTarget: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewPool("x", tc.cfg, PoolOptions{}); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestPoolIdentity(t *testing.T) {
	t.Parallel()
	base := config.Upstream{Targets: []string{"10.0.0.1:80", "unix:/a.sock"}}
	mk := func(name string, c config.Upstream) string {
		p, err := NewPool(name, c, PoolOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p.Identity()
	}
	same := base
	same.Targets = []string{"http://10.0.0.1:80", "unix:/a.sock"} // same target, other spelling
	same.Policy = config.DefaultPolicy
	same.MaxIdlePerTarget = fallbackMaxIdlePerTarget
	same.Timeouts.Connect = config.Duration(time.Second) // per request, not identity
	if a, b := mk("api", base), mk("api", same); a != b {
		t.Errorf("identity changed:\n%s\n%s", a, b)
	}
	for _, tc := range []struct {
		name string
		pool string
		cfg  config.Upstream
	}{
		{"name", "other", base},
		{"targets", "api", config.Upstream{Targets: []string{"10.0.0.1:80"}}},
		{"order", "api", config.Upstream{Targets: []string{"unix:/a.sock", "10.0.0.1:80"}}},
		{"idle", "api", config.Upstream{Targets: base.Targets, MaxIdlePerTarget: 5}},
		{"conns", "api", config.Upstream{Targets: base.Targets, MaxConnsPerTarget: 5}},
		{"idle timeout", "api", config.Upstream{Targets: base.Targets, IdleConnTimeout: config.Duration(time.Second)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if mk(tc.pool, tc.cfg) == mk("api", base) {
				t.Errorf("identity unchanged for %s", tc.name)
			}
		})
	}
}

func BenchmarkPoolPick(b *testing.B) {
	p, err := NewPool("bench", config.Upstream{Targets: []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"}}, PoolOptions{})
	if err != nil {
		b.Fatal(err)
	}
	pc := &PickContext{Path: "/"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Pick(pc); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPickAllocs(t *testing.T) {
	p, err := NewPool("a", config.Upstream{Targets: []string{"10.0.0.1:80", "10.0.0.2:80"}}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pc := &PickContext{}
	if n := testing.AllocsPerRun(100, func() { p.Pick(pc) }); n != 0 {
		t.Fatalf("Pick allocates %v times", n)
	}
}
