package redisserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds for starting and stopping: generous, the test machine is small
// and shared.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 10 * time.Second
	pollEvery    = 20 * time.Millisecond
)

// Server is one redis-server process owned by a test. Methods are safe for
// concurrent use; the port stays the same across Stop and Restart, so
// clients configured with Addr reconnect to the restarted server.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exited
	logs *bytes.Buffer
}

// Start runs redis-server on a free 127.0.0.1 port with persistence off
// (--save ” --appendonly no), waits until it answers PING, and stops it
// in t.Cleanup. When redis-server is not installed the test is skipped,
// unless the environment variable CI is set: then it fails, so CI cannot
// silently lose the cluster tests (install it with scripts/test-deps.sh).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is not installed (CI is set, so this fails instead of skipping): run scripts/test-deps.sh")
		}
		t.Skip("redis-server is not installed: run scripts/test-deps.sh to run this test")
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	port, err := freePort()
	if err != nil {
		t.Fatalf("redisserver: finding a free port: %v", err)
	}
	s.port = port
	t.Cleanup(func() { s.stop() })
	if err := s.start(); err != nil {
		t.Fatalf("redisserver: %v", err)
	}
	return s
}

// Addr is the server's "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Stop stops the server (SIGTERM to its PID, SIGKILL after a bound) and
// waits for it to exit. The port is free afterwards; Restart reuses it.
func (s *Server) Stop() {
	s.t.Helper()
	if err := s.stop(); err != nil {
		s.t.Fatalf("redisserver: stop: %v", err)
	}
}

// Restart starts a stopped server again on the same port and waits for
// PING. Its data set is empty (no persistence).
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("redisserver: restart: %v", err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("already running")
	}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--loglevel", "warning",
	)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done, s.logs = cmd, done, logs
	deadline := time.Now().Add(startTimeout)
	for {
		if ping(s.Addr()) == nil {
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("redis-server exited at start: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("redis-server on port %d did not answer PING within %v", s.port, startTimeout)
		}
		time.Sleep(pollEvery) // polling a condition under a deadline
	}
}

func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.killLocked()
		return fmt.Errorf("redis-server (pid %d) ignored SIGTERM for %v; killed", s.cmd.Process.Pid, stopTimeout)
	}
	s.cmd = nil
	return nil
}

func (s *Server) killLocked() {
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// ping sends an inline PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("unexpected PING reply %q", line)
	}
	return nil
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process
// could take it before redis-server binds; start then fails clearly.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
