package e2e

// The harness: TestMain builds cmd/gatehouse once into a temporary directory,
// and start/startArgs run that real binary with a configuration written to
// t.TempDir(), on 127.0.0.1:0, reading the bound address from the
// "listening" log line. Everything waits by polling a condition under a
// deadline; nothing sleeps for synchronisation.

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// update regenerates golden files (go test ./test/e2e/ -run Validate -update).
var update = flag.Bool("update", false, "rewrite golden files in testdata")

// binPath is the gatehouse binary built by TestMain.
var binPath string

// Generous bounds: the machine has 2 cores and other test suites run beside us.
const (
	startTimeout  = 15 * time.Second
	logTimeout    = 10 * time.Second
	stopTimeout   = 15 * time.Second
	clientTimeout = 10 * time.Second
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "gatehouse-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "gatehouse")
	// The binary is built without -race on purpose: the race detector slows
	// the proxy several-fold and distorts the timing and memory tests; the
	// test process itself runs under -race.
	build := exec.Command("go", "build", "-o", binPath, "../../cmd/gatehouse")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building cmd/gatehouse failed:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one running gatehouse process.
type instance struct {
	t       *testing.T
	cmd     *exec.Cmd
	cfgPath string
	Addr    string            // first listener's bound address
	Addrs   map[string]string // listener name → bound address
	Stderr  *lineLog          // error log (JSON lines)
	Stdout  *lineLog          // access log (JSON lines)
	done    chan struct{}     // closed when the process exited
	waitErr error             // valid after done
}

// start writes cfg to a fresh t.TempDir()/gatehouse.yaml and runs
// `gatehouse run -c FILE`, returning once the "ready" line was logged.
func start(t *testing.T, cfg string) *instance {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(withEngine(cfg)), 0o644); err != nil {
		t.Fatal(err)
	}
	inst := startArgs(t, "run", "-c", path)
	inst.cfgPath = path
	return inst
}

// startArgs runs the binary with args and waits for its "ready" line.
func startArgs(t *testing.T, args ...string) *instance {
	t.Helper()
	inst := &instance{
		t:      t,
		cmd:    exec.Command(binPath, args...),
		Stderr: newLineLog(),
		Stdout: newLineLog(),
		done:   make(chan struct{}),
		Addrs:  map[string]string{},
	}
	inst.cmd.Stdout = inst.Stdout
	inst.cmd.Stderr = inst.Stderr
	inst.cmd.Env = cleanEnv()
	if err := inst.cmd.Start(); err != nil {
		t.Fatalf("start gatehouse: %v", err)
	}
	go func() {
		inst.waitErr = inst.cmd.Wait()
		close(inst.done)
	}()
	t.Cleanup(func() {
		inst.kill()
		if t.Failed() {
			inst.dumpLogs()
		}
	})
	_, _, ok := inst.Stderr.waitFor(0, startTimeout, inst.done, func(e entry, _ string) bool {
		return e.str("msg") == "ready"
	})
	if !ok {
		select {
		case <-inst.done:
			t.Fatalf("gatehouse %v exited before ready: %v", args, inst.waitErr)
		default:
			t.Fatalf("gatehouse %v: no \"ready\" line within %v", args, startTimeout)
		}
	}
	for _, s := range inst.Stderr.Lines() {
		e := parseEntry(s)
		if e.str("msg") != "listening" {
			continue
		}
		addr := e.str("address")
		if inst.Addr == "" {
			inst.Addr = addr
		}
		inst.Addrs[e.str("listener")] = addr
	}
	if inst.Addr == "" {
		t.Fatalf("gatehouse ready but no \"listening\" line with an address")
	}
	if _, port, err := net.SplitHostPort(inst.Addr); err != nil || port == "0" {
		t.Fatalf("listening address %q is not a bound host:port", inst.Addr)
	}
	return inst
}

// cleanEnv is the environment without proxy variables, so nothing the
// binary or a child might read sends our loopback traffic elsewhere.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (inst *instance) dumpLogs() {
	lines := inst.Stderr.Lines()
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	inst.t.Logf("gatehouse stderr (last %d lines):\n%s", len(lines), strings.Join(lines, "\n"))
}

func (inst *instance) kill() {
	select {
	case <-inst.done:
		return
	default:
	}
	_ = inst.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-inst.done:
	case <-time.After(5 * time.Second):
		_ = inst.cmd.Process.Kill()
		<-inst.done
	}
}

// PID is the process ID.
func (inst *instance) PID() int { return inst.cmd.Process.Pid }

// URL returns "http://ADDR" + path.
func (inst *instance) URL(path string) string { return "http://" + inst.Addr + path }

// WaitLog waits for an error-log line with "msg" == msg at or after mark.
func (inst *instance) WaitLog(mark int, msg string) entry {
	inst.t.Helper()
	e, _, ok := inst.Stderr.waitFor(mark, logTimeout, inst.done, func(e entry, _ string) bool {
		return e.str("msg") == msg
	})
	if !ok {
		inst.t.Fatalf("no %q log line within %v%s", msg, logTimeout, inst.exitNote())
	}
	return e
}

// WaitReload waits for the outcome of a reload started after mark and
// returns the line ("config reloaded" or "config reload failed").
func (inst *instance) WaitReload(mark int) entry {
	inst.t.Helper()
	e, _, ok := inst.Stderr.waitFor(mark, logTimeout, inst.done, func(e entry, _ string) bool {
		m := e.str("msg")
		return m == "config reloaded" || m == "config reload failed"
	})
	if !ok {
		inst.t.Fatalf("no reload outcome logged within %v%s", logTimeout, inst.exitNote())
	}
	return e
}

// exitNote describes the process's exit, if it exited, for failure messages.
func (inst *instance) exitNote() string {
	select {
	case <-inst.done:
		return fmt.Sprintf(" (gatehouse exited: %v)", inst.waitErr)
	default:
		return ""
	}
}

// Signal sends sig to the process.
func (inst *instance) Signal(sig os.Signal) {
	inst.t.Helper()
	if err := inst.cmd.Process.Signal(sig); err != nil {
		inst.t.Fatalf("signal %v: %v", sig, err)
	}
}

// ReloadSIGHUP sends SIGHUP and returns the reload outcome line.
func (inst *instance) ReloadSIGHUP() entry {
	inst.t.Helper()
	mark := inst.Stderr.Len()
	inst.Signal(syscall.SIGHUP)
	return inst.WaitReload(mark)
}

// Rewrite replaces the config file with cfg, atomically (write beside,
// rename over, as editors and config management do), and returns the
// reload outcome line the file watcher produced.
func (inst *instance) Rewrite(cfg string) entry {
	inst.t.Helper()
	mark := inst.Stderr.Len()
	tmp := inst.cfgPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(withEngine(cfg)), 0o644); err != nil {
		inst.t.Fatal(err)
	}
	if err := os.Rename(tmp, inst.cfgPath); err != nil {
		inst.t.Fatal(err)
	}
	return inst.WaitReload(mark)
}

// RewriteInPlace truncates and rewrites the config file (the other common
// way files change) and returns the reload outcome line.
func (inst *instance) RewriteInPlace(cfg string) entry {
	inst.t.Helper()
	mark := inst.Stderr.Len()
	if err := os.WriteFile(inst.cfgPath, []byte(withEngine(cfg)), 0o644); err != nil {
		inst.t.Fatal(err)
	}
	return inst.WaitReload(mark)
}

// RewriteOK rewrites the config file (atomically when atomic, else in
// place) and waits for a successful reload, failing the test with any
// reload error seen meanwhile.
func (inst *instance) RewriteOK(cfg string, atomic bool) entry {
	inst.t.Helper()
	mark := inst.Stderr.Len()
	if atomic {
		tmp := inst.cfgPath + ".tmp"
		if err := os.WriteFile(tmp, []byte(withEngine(cfg)), 0o644); err != nil {
			inst.t.Fatal(err)
		}
		if err := os.Rename(tmp, inst.cfgPath); err != nil {
			inst.t.Fatal(err)
		}
	} else if err := os.WriteFile(inst.cfgPath, []byte(withEngine(cfg)), 0o644); err != nil {
		inst.t.Fatal(err)
	}
	e, _, ok := inst.Stderr.waitFor(mark, logTimeout, inst.done, func(e entry, _ string) bool {
		return e.str("msg") == "config reloaded"
	})
	if !ok {
		var errs []string
		for _, s := range inst.Stderr.Lines()[mark:] {
			if e := parseEntry(s); e.str("msg") == "config reload failed" {
				errs = append(errs, e.str("error"))
			}
		}
		inst.t.Fatalf("no successful reload within %v after a file edit; failures: %q%s", logTimeout, errs, inst.exitNote())
	}
	return e
}

// Stop sends SIGTERM, waits for the exit and asserts exit code 0 and the
// "shutting down" / "stopped" lines.
func (inst *instance) Stop() {
	inst.t.Helper()
	mark := inst.Stderr.Len()
	inst.Signal(syscall.SIGTERM)
	inst.WaitExit(stopTimeout)
	inst.WaitLog(mark, "shutting down")
	inst.WaitLog(mark, "stopped")
}

// WaitExit waits for the process to exit and asserts exit code 0.
func (inst *instance) WaitExit(timeout time.Duration) {
	inst.t.Helper()
	select {
	case <-inst.done:
	case <-time.After(timeout):
		inst.t.Fatalf("gatehouse did not exit within %v", timeout)
	}
	if inst.waitErr != nil {
		inst.t.Fatalf("gatehouse exit: %v (want exit code 0)", inst.waitErr)
	}
}

// AccessLine waits for the access-log line whose request_id is id.
func (inst *instance) AccessLine(id string) entry {
	inst.t.Helper()
	e, _, ok := inst.Stdout.waitFor(0, logTimeout, inst.done, func(e entry, _ string) bool {
		return e.str("request_id") == id
	})
	if !ok {
		inst.t.Fatalf("no access-log line with request_id %q within %v", id, logTimeout)
	}
	return e
}

// newClient is an HTTP client that never uses proxy settings from the
// environment, never follows redirects and is bounded in time.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 16,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       clientTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get performs a GET with an optional Host and headers and returns status,
// body and response headers; transport errors fail the test.
func get(t *testing.T, c *http.Client, url, host string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %q): %v", url, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// rawExchange writes req (bytes exactly as given) on a new TCP connection
// and reads one response. It returns an error if no parseable response came.
func rawExchange(addr, req string) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, nil, fmt.Errorf("write: %w", err)
	}
	method, _, _ := strings.Cut(req, " ")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return nil, nil, fmt.Errorf("read response: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// assertErrorBody checks a Gatehouse error response: short text body with
// the request ID and nothing about the backend.
func assertErrorBody(t *testing.T, body string, hdr http.Header, backendAddr string) {
	t.Helper()
	id := hdr.Get("X-Request-ID")
	if id == "" {
		t.Errorf("error response has no X-Request-ID header")
	} else if !strings.Contains(body, id) {
		t.Errorf("error body %q does not contain the request ID %q", body, id)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("error Content-Type = %q, want text/plain", ct)
	}
	_, port, _ := net.SplitHostPort(backendAddr)
	// The ID is random and could contain a digit run equal to the port.
	lower := strings.ToLower(body)
	if id != "" {
		lower = strings.ReplaceAll(lower, strings.ToLower(id), "")
	}
	for _, leak := range []string{"127.0.0.1", port, "dial", "connection refused", "tcp", "eof", "timeout awaiting"} {
		if leak != "" && strings.Contains(lower, leak) {
			t.Errorf("error body %q leaks %q", body, leak)
		}
	}
	if len(body) > 512 {
		t.Errorf("error body is %d bytes, want a short message", len(body))
	}
}

// waitUntil polls cond every few milliseconds until it holds or timeout.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
}
