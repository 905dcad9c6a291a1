package pebble

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds for starting and stopping pebble: generous, the test machine is
// small and shared.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
	pollEvery    = 20 * time.Millisecond
)

// Options configure one pebble.
type Options struct {
	// HTTPPort and TLSPort are the ports pebble's validation authority
	// connects to (on 127.0.0.1, through the in-process DNS server) for
	// http-01 and tls-alpn-01: the ports the test serves challenges on.
	// Zero leaves pebble's defaults (5002, 5001), which tests should not
	// rely on.
	HTTPPort, TLSPort int
	// Validity is the lifetime of issued certificates (whole seconds;
	// pebble's config certificateValidityPeriod). Zero keeps pebble's
	// default (about five years).
	Validity time.Duration
}

// Pebble is one running pebble process owned by a test. Safe for
// concurrent use.
type Pebble struct {
	dir        string
	listen     string
	management string
	caFile     string
	pool       *x509.CertPool
	logs       *syncBuffer
}

// Start runs pebble on free 127.0.0.1 ports with a generated HTTPS
// certificate, PEBBLE_VA_NOSLEEP=1 (no random validation delay),
// PEBBLE_WFE_NONCEREJECT=0 (no deliberately rejected nonces) and
// PEBBLE_AUTHZREUSE=0 (every order is validated again, so renewals and
// cluster tests really solve challenges), waits until its directory
// answers, and stops it (by PID) in t.Cleanup.
//
// When pebble is not installed the test is skipped, unless the
// environment variable CI is set: then it fails, so CI cannot silently
// lose the ACME tests (install it with scripts/test-deps.sh).
func Start(t testing.TB, opts Options) *Pebble {
	t.Helper()
	bin, err := exec.LookPath("pebble")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pebble is not installed (CI is set, so this fails instead of skipping): run scripts/test-deps.sh")
		}
		t.Skip("pebble is not installed: run scripts/test-deps.sh to run this test")
	}
	p := &Pebble{dir: t.TempDir(), logs: &syncBuffer{}}
	p.writeTLS(t)
	dns, err := startDNS()
	if err != nil {
		t.Fatalf("pebble: starting the DNS server: %v", err)
	}
	t.Cleanup(dns.close)
	// The ports are free when chosen, but another test process can bind
	// one before pebble does; pebble then exits at once, and a fresh
	// pair is tried.
	for attempt := 1; ; attempt++ {
		err := p.launch(t, bin, opts, dns.addr())
		if err == nil {
			break
		}
		if attempt == startAttempts || !strings.Contains(p.Log(), "address already in use") {
			t.Fatalf("pebble: %v\npebble log:\n%s", err, p.Log())
		}
		p.logs.reset()
	}
	return p
}

// startAttempts bounds the starts tried when a chosen port was taken.
const startAttempts = 3

// launch starts pebble on two free ports and waits until its directory
// answers; on failure the process has been stopped.
func (p *Pebble) launch(t testing.TB, bin string, opts Options, dnsAddr string) error {
	ports, err := freePorts(2)
	if err != nil {
		return fmt.Errorf("finding free ports: %w", err)
	}
	p.listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	p.management = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	cfgFile, err := p.writeConfig(opts)
	if err != nil {
		return fmt.Errorf("writing its config: %w", err)
	}
	cmd := exec.Command(bin, "-config", cfgFile, "-dnsserver", dnsAddr)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	if err := p.waitReady(done); err != nil {
		stop()
		return err
	}
	t.Cleanup(stop)
	return nil
}

// DirectoryURL is the ACME directory (RFC 8555 §7.1.1).
func (p *Pebble) DirectoryURL() string { return "https://" + p.listen + "/dir" }

// CARootFile is a PEM file with the root that signs pebble's own HTTPS
// certificate: the root an ACME client must trust to talk to it (config
// acme.ca_root). It is not the root of the certificates pebble issues
// (see IssuingRoot).
func (p *Pebble) CARootFile() string { return p.caFile }

// Client is an HTTP client trusting CARootFile.
func (p *Pebble) Client() *http.Client {
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}},
	}
}

// IssuingRoot fetches the root pebble signs issued certificates with,
// from its management interface (GET /roots/0). Pebble generates it at
// start, so it differs per process.
func (p *Pebble) IssuingRoot(ctx context.Context) (*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+p.management+"/roots/0", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.Client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching pebble's root: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching pebble's root: status %d, %w", resp.StatusCode, err)
	}
	block, _ := pem.Decode(body)
	if block == nil {
		return nil, fmt.Errorf("pebble's root is not PEM: %q", body)
	}
	return x509.ParseCertificate(block.Bytes)
}

// Orders counts the orders pebble has created (RFC 8555 §7.4 newOrder
// requests that it answered with an order), from its log.
func (p *Pebble) Orders() int {
	return strings.Count(p.Log(), "POST /order-plz -> calling handler()")
}

// Issued counts the certificates pebble has issued, from its log.
func (p *Pebble) Issued() int {
	return strings.Count(p.Log(), "Issued certificate serial")
}

// Log returns what pebble has printed so far.
func (p *Pebble) Log() string { return p.logs.String() }

func (p *Pebble) writeConfig(opts Options) (string, error) {
	c := map[string]any{
		"listenAddress":           p.listen,
		"managementListenAddress": p.management,
		"certificate":             filepath.Join(p.dir, "pebble.crt"),
		"privateKey":              filepath.Join(p.dir, "pebble.key"),
		"httpPort":                opts.HTTPPort,
		"tlsPort":                 opts.TLSPort,
		"ocspResponderURL":        "",
	}
	if opts.HTTPPort == 0 {
		c["httpPort"] = 5002
	}
	if opts.TLSPort == 0 {
		c["tlsPort"] = 5001
	}
	if opts.Validity > 0 {
		c["certificateValidityPeriod"] = uint64(opts.Validity / time.Second)
	}
	b, err := json.Marshal(map[string]any{"pebble": c})
	if err != nil {
		return "", err
	}
	f := filepath.Join(p.dir, "pebble-config.json")
	return f, os.WriteFile(f, b, 0o600)
}

func (p *Pebble) waitReady(exited <-chan struct{}) error {
	client := p.Client()
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get(p.DirectoryURL())
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("pebble exited at start")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("directory %s did not answer within %v (last error: %v)", p.DirectoryURL(), startTimeout, err)
		}
		time.Sleep(pollEvery) // polling a condition under a deadline
	}
}

// syncBuffer is a bytes.Buffer safe for the process' writes and the
// test's reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePorts asks the kernel for n distinct free ports on 127.0.0.1.
// Another process could take one before pebble binds; start then fails
// clearly.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
