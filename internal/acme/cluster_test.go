package acme

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/cluster"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/pebble"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/redisserver"
)

// redisStorage is a CertStorage on its own client to addr, as one
// instance of a cluster has.
func redisStorage(t testing.TB, addr string) (*cluster.Cluster, *cluster.CertStorage) {
	t.Helper()
	c, err := cluster.New(config.Cluster{Redis: &config.Redis{Address: addr, Prefix: "gh:", Timeout: config.Duration(2 * time.Second)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.CertStorage(cluster.CertStorageOptions{LockPoll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// TestClusterObtainOnce: two instances sharing one Redis start managing
// the same name at once; the lock lets one order it, both serve it.
func TestClusterObtainOnce(t *testing.T) {
	rs := redisserver.Start(t)
	httpL := listen(t)
	p := pebble.Start(t, pebble.Options{HTTPPort: port(httpL), TLSPort: 1})
	domain := "shared.cluster.test"
	cfg := config.ACME{CA: p.DirectoryURL(), CARoot: p.CARootFile(), Domains: []string{domain},
		Challenges: []string{ChallengeHTTP01}, HTTPPort: port(httpL)}
	var addrs []string
	var ms []*Manager
	for i := range 2 {
		_, st := redisStorage(t, rs.Addr())
		m, err := New(cfg, Options{Storage: st})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Stop)
		if i == 0 {
			serveHTTP(t, httpL, m.HTTPChallenge(http.NotFoundHandler()))
		}
		tlsL := listen(t)
		serveTLS(t, tlsL, m.GetCertificate)
		addrs, ms = append(addrs, tlsL.Addr().String()), append(ms, m)
	}
	for _, m := range ms {
		if err := m.Manage(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	roots := issuingRoots(t, p)
	a := waitCert(t, addrs[0], domain, roots, nil)
	b := waitCert(t, addrs[1], domain, roots, nil)
	if a.SerialNumber.Cmp(b.SerialNumber) != 0 {
		t.Fatalf("instances serve different certificates: %v and %v", a.SerialNumber, b.SerialNumber)
	}
	if p.Orders() != 1 {
		t.Fatalf("pebble orders = %d, want 1", p.Orders())
	}
}

// TestClusterDistributedChallenge: instance A orders the certificate, and
// pebble's HTTP-01 validation reaches only instance B — another process,
// so B can answer only from the shared Redis storage. B then serves the
// certificate A obtained, and there was one order.
func TestClusterDistributedChallenge(t *testing.T) {
	rs := redisserver.Start(t)
	hp, bTLS := freePort(t), freePort(t)
	p := pebble.Start(t, pebble.Options{HTTPPort: hp, TLSPort: 1})
	domain := "distributed.cluster.test"

	b := startHelper(t, map[string]string{
		"ACME_REDIS": rs.Addr(), "ACME_CA": p.DirectoryURL(), "ACME_CAROOT": p.CARootFile(),
		"ACME_DOMAIN": domain, "ACME_HTTP_PORT": strconv.Itoa(hp), "ACME_TLS_PORT": strconv.Itoa(bTLS),
	})

	c, st := redisStorage(t, rs.Addr())
	m, err := New(config.ACME{CA: p.DirectoryURL(), CARoot: p.CARootFile(), Domains: []string{domain},
		Challenges: []string{ChallengeHTTP01}, HTTPPort: hp}, Options{Storage: st})
	aTLS := listen(t)
	serveTLS(t, aTLS, m.GetCertificate)
	startManager(t, m, err)

	// B starts managing only once A holds the order's lock (or is done),
	// so that A, not B, is the instance that orders.
	roots := issuingRoots(t, p)
	lockKey := "gh:certmagic:lock:issue_cert_" + domain
	deadline := time.Now().Add(obtainTimeout)
	for {
		if n, _ := c.Redis().Exists(t.Context(), lockKey).Result(); n == 1 {
			break
		}
		if _, err := handshake(aTLS.Addr().String(), domain, roots); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("instance A neither locked nor obtained the certificate")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition under a deadline
	}
	b.send("manage")

	ca := waitCert(t, aTLS.Addr().String(), domain, roots, nil)
	cb := waitCert(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(bTLS)), domain, roots, nil)
	if ca.SerialNumber.Cmp(cb.SerialNumber) != 0 {
		t.Fatalf("instances serve different certificates: %v and %v", ca.SerialNumber, cb.SerialNumber)
	}
	if got := b.challenges.Load(); got < 1 {
		t.Fatalf("instance B answered %d challenges, want >= 1", got)
	}
	if p.Orders() != 1 {
		t.Fatalf("pebble orders = %d, want 1\n%s", p.Orders(), p.Log())
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return port(l)
}

// helper is instance B: this test binary re-executed, running
// TestClusterHelperProcess.
type helper struct {
	stdin      io.WriteCloser
	challenges atomic.Int32
}

func (h *helper) send(line string) { fmt.Fprintln(h.stdin, line) }

func startHelper(t *testing.T, env map[string]string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestClusterHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GATEHOUSE_ACME_HELPER=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
	})
	h := &helper{stdin: stdin}
	ready := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "ready":
				close(ready)
			case strings.HasPrefix(line, "challenge "):
				h.challenges.Add(1)
			}
		}
	}()
	select {
	case <-ready:
	case <-done:
		t.Fatal("helper process exited before it was ready")
	case <-time.After(30 * time.Second):
		t.Fatal("helper process not ready within 30s")
	}
	return h
}

// TestClusterHelperProcess is instance B of TestClusterDistributedChallenge
// when run by it; otherwise it does nothing.
func TestClusterHelperProcess(t *testing.T) {
	if os.Getenv("GATEHOUSE_ACME_HELPER") != "1" {
		t.Skip("helper process for TestClusterDistributedChallenge")
	}
	_, st := redisStorage(t, os.Getenv("ACME_REDIS"))
	hp, _ := strconv.Atoi(os.Getenv("ACME_HTTP_PORT"))
	m, err := New(config.ACME{CA: os.Getenv("ACME_CA"), CARoot: os.Getenv("ACME_CAROOT"),
		Domains: []string{os.Getenv("ACME_DOMAIN")}, Challenges: []string{ChallengeHTTP01}, HTTPPort: hp},
		Options{Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	httpL, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", os.Getenv("ACME_HTTP_PORT")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { httpL.Close() })
	tlsL, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", os.Getenv("ACME_TLS_PORT")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tlsL.Close() })
	challenge := m.HTTPChallenge(http.NotFoundHandler())
	serveHTTP(t, httpL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("challenge " + r.URL.Path)
		challenge.ServeHTTP(w, r)
	}))
	serveTLS(t, tlsL, m.GetCertificate)
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "manage" {
			if err := m.Manage(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
}
