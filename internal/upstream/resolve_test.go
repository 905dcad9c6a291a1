package upstream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// fakeDNS is a map of name → addresses, answered over UDP (a real DNS
// server, so tests can use a real net.Resolver) or directly as a
// lookupFunc. A name mapped to nil fails with NXDOMAIN.
type fakeDNS struct {
	mu      sync.Mutex
	records map[string][]netip.Addr
	conn    *net.UDPConn
}

func newFakeDNS(t *testing.T) *fakeDNS {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDNS{records: map[string][]netip.Addr{}, conn: conn}
	done := make(chan struct{})
	go d.serve(done)
	t.Cleanup(func() { conn.Close(); <-done })
	return d
}

func (d *fakeDNS) set(name string, addrs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	d.records[name] = as
}

func (d *fakeDNS) get(name string) ([]netip.Addr, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	as, ok := d.records[strings.TrimSuffix(name, ".")]
	return as, ok && as != nil
}

// lookup is the lookupFunc view of the records.
func (d *fakeDNS) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	as, ok := d.get(host)
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return append([]netip.Addr(nil), as...), nil
}

// resolver returns a net.Resolver that asks only this server.
func (d *fakeDNS) resolver() *net.Resolver {
	addr := d.conn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, "udp", addr)
	}}
}

func (d *fakeDNS) serve(done chan struct{}) {
	defer close(done)
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if resp, err := d.answer(buf[:n]); err == nil {
			_, _ = d.conn.WriteToUDPAddrPort(resp, from)
		}
	}
}

func (d *fakeDNS) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	addrs, ok := d.get(q.Name.String())
	rcode := dnsmessage.RCodeSuccess
	if !ok {
		rcode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true, RCode: rcode})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}
	for _, a := range addrs {
		switch {
		case a.Is4() && q.Type == dnsmessage.TypeA:
			rh.Type = dnsmessage.TypeA
			err = b.AResource(rh, dnsmessage.AResource{A: a.As4()})
		case a.Is6() && q.Type == dnsmessage.TypeAAAA:
			rh.Type = dnsmessage.TypeAAAA
			err = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// urlHosts lists the pool's targets' URL hosts.
func urlHosts(p *Pool) []string {
	var s []string
	for _, t := range p.Targets() {
		s = append(s, t.URLHost())
	}
	return s
}

func TestResolveChanges(t *testing.T) {
	t.Parallel()
	dns := newFakeDNS(t)
	logs := &xportLogs{}
	cfg := config.Upstream{
		Targets:         []string{"10.9.9.9:80", "app.test:8080 weight=3"},
		ResolveInterval: config.Duration(time.Hour),
	}
	p, err := NewPool("app", cfg, PoolOptions{Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := newResolver(p, dns.lookup)
	fixed := p.Targets()[0]
	ctx := context.Background()

	// Each step sets the records, resolves once and checks the list; a
	// target whose address stayed must be the same object.
	var prev map[string]*Target
	for _, step := range []struct {
		name  string
		addrs []string // nil: the lookup fails
		want  []string
		warns int
	}{
		{"first answer", []string{"10.0.0.2", "10.0.0.1"}, []string{"10.9.9.9:80", "10.0.0.1:8080", "10.0.0.2:8080"}, 0},
		{"one replaced", []string{"10.0.0.2", "10.0.0.3"}, []string{"10.9.9.9:80", "10.0.0.2:8080", "10.0.0.3:8080"}, 0},
		{"lookup fails: previous kept", nil, []string{"10.9.9.9:80", "10.0.0.2:8080", "10.0.0.3:8080"}, 1},
		{"still failing: logged once", nil, []string{"10.9.9.9:80", "10.0.0.2:8080", "10.0.0.3:8080"}, 1},
		{"recovered, shared address deduplicated", []string{"10.9.9.9", "10.0.0.3"}, []string{"10.9.9.9:80", "10.0.0.3:8080", "10.9.9.9:8080"}, 1},
	} {
		if step.addrs == nil {
			dns.set("app.test")
		} else {
			dns.set("app.test", step.addrs...)
		}
		r.resolve(ctx)
		if got := urlHosts(p); strings.Join(got, " ") != strings.Join(step.want, " ") {
			t.Fatalf("%s: targets %v, want %v", step.name, got, step.want)
		}
		if got := logs.count("WARN"); got != step.warns {
			t.Fatalf("%s: %d warnings, want %d", step.name, got, step.warns)
		}
		cur := map[string]*Target{}
		for i, tg := range p.Targets() {
			cur[tg.URLHost()] = tg
			if tg.Index() != i {
				t.Fatalf("%s: %s has index %d at position %d", step.name, tg.URLHost(), tg.Index(), i)
			}
			if old, ok := prev[tg.URLHost()]; ok && old != tg {
				t.Fatalf("%s: target %s was rebuilt; its state would be lost", step.name, tg.URLHost())
			}
			if tg.URLHost() == "10.9.9.9:80" {
				if tg != fixed {
					t.Fatalf("%s: the IP target was replaced", step.name)
				}
				continue
			}
			if tg.HostHeader() != "app.test:8080" || tg.Weight() != 3 || tg.Protocol() != "http" || tlsHostOf(tg) != "app.test" {
				t.Fatalf("%s: resolved target %s: Host %q weight %d scheme %q", step.name, tg, tg.HostHeader(), tg.Weight(), tg.Protocol())
			}
		}
		prev = cur
	}
	if logs.count("INFO upstream name resolves again") != 1 {
		t.Fatalf("recovery not logged once: %v", logs.msgs)
	}
}

// TestResolveInFlightSurvivesRemoval: a request streaming from a target
// that DNS drops finishes, and a request that picked the target just
// before it was dropped can still connect to it; once idle, it is gone.
func TestResolveInFlightSurvivesRemoval(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 4)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			started <- struct{}{}
			<-release
		}
		io.WriteString(w, "done "+r.Host)
	})
	a := httptest.NewServer(handler)
	defer a.Close()
	_, port, _ := net.SplitHostPort(a.Listener.Addr().String())
	ln, err := net.Listen("tcp", "127.0.0.2:"+port)
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	b := httptest.NewUnstartedServer(handler)
	b.Listener.Close()
	b.Listener = ln
	b.Start()
	defer b.Close()

	dns := newFakeDNS(t)
	dns.set("app.test", "127.0.0.1", "127.0.0.2")
	p, err := NewPool("app", config.Upstream{Targets: []string{"app.test:" + port}, ResolveInterval: config.Duration(time.Hour)}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := newResolver(p, dns.lookup)
	r.resolve(context.Background())
	if len(p.Targets()) != 2 {
		t.Fatalf("targets %v", urlHosts(p))
	}
	removed := p.Targets()[0] // 127.0.0.1
	get := func(tg *Target, path string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+tg.URLHost()+path, nil)
		req.Host = tg.HostHeader()
		res, err := p.Transport().RoundTrip(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		return string(body), err
	}

	// One exchange streams from the target; another picked it and has not
	// connected yet. The proxy brackets both with Begin/Done.
	removed.Begin()
	removed.Begin()
	slow := make(chan string, 1)
	go func() {
		defer removed.Done()
		body, err := get(removed, "/slow")
		if err != nil {
			body = err.Error()
		}
		slow <- body
	}()
	<-started

	dns.set("app.test", "127.0.0.2")
	r.resolve(context.Background())
	if got := urlHosts(p); len(got) != 1 || got[0] != "127.0.0.2:"+port {
		t.Fatalf("after removal targets %v", got)
	}
	body, err := get(removed, "/late")
	removed.Done()
	if err != nil || body != "done app.test:"+port {
		t.Fatalf("request that picked the removed target: %q, %v", body, err)
	}
	close(release)
	if got := <-slow; got != "done app.test:"+port {
		t.Fatalf("in-flight request on the removed target ended with %q", got)
	}

	// Idle now: the next round stops it being dialable (its idle
	// connection is left to idle_conn_timeout; nothing routes to it).
	r.resolve(context.Background())
	if c, err := p.dial.DialContext(context.Background(), "tcp", removed.URLHost()); !errors.Is(err, ErrUnknownDialAddress) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("removed idle target still dialable: %v", err)
	}
}

// TestResolveStart resolves through a real net.Resolver against a DNS
// server: Start resolves before returning, and the loop follows changes.
func TestResolveStart(t *testing.T) {
	t.Parallel()
	dns := newFakeDNS(t)
	dns.set("svc.test", "127.0.0.1", "::1")
	p, err := NewPool("svc", config.Upstream{
		Targets:         []string{"h2c://svc.test:9000"},
		ResolveInterval: config.Duration(20 * time.Millisecond),
	}, PoolOptions{Resolver: dns.resolver()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := urlHosts(p); len(got) != 1 || got[0] != "svc.test:9000" {
		t.Fatalf("before Start: %v", got)
	}
	p.Start()
	if got := strings.Join(urlHosts(p), " "); got != "127.0.0.1:9000 [::1]:9000" {
		t.Fatalf("after Start: %q", got)
	}
	for _, tg := range p.Targets() {
		if tg.Protocol() != "h2c" || tg.HostHeader() != "svc.test:9000" {
			t.Fatalf("resolved target %s: scheme %q Host %q", tg, tg.Protocol(), tg.HostHeader())
		}
	}
	dns.set("svc.test", "127.0.0.3")
	if !xportPoll(5*time.Second, func() bool {
		got := urlHosts(p)
		return len(got) == 1 && got[0] == "127.0.0.3:9000"
	}) {
		t.Fatalf("loop did not follow the change: %v", urlHosts(p))
	}
}

// TestResolveWithoutNames: nothing to resolve leaves the targets alone.
func TestResolveWithoutNames(t *testing.T) {
	t.Parallel()
	p, err := NewPool("ip", config.Upstream{Targets: []string{"127.0.0.1:1", "unix:/tmp/x.sock"}, ResolveInterval: config.Duration(time.Second)}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if r := newResolver(p, nil); r != nil {
		t.Fatal("resolver built for a pool without host names")
	}
	before := p.Targets()
	p.Start()
	if after := p.Targets(); len(after) != 2 || after[0] != before[0] || after[1] != before[1] {
		t.Fatal("targets changed")
	}
}
