package engine

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIdleConnMemory opens 2000 keep-alive connections through the engine,
// one request each, and reports the memory per idle connection: RSS and
// Go heap+stacks, minus the same measurement with the client connections
// parked on a listener that only accepts (the client side's own cost).
// It is a measurement, not a check: run it with GATEHOUSE_IDLE_MEM=1.
func TestIdleConnMemory(t *testing.T) {
	if os.Getenv("GATEHOUSE_IDLE_MEM") == "" {
		t.Skip("set GATEHOUSE_IDLE_MEM=1 to measure (opens 2000 sockets)")
	}
	const n = 2000
	measure := func(addr string, request bool) (rss, goMem float64) {
		rss0, go0 := memNow()
		st0 := stackNow()
		conns := make([]net.Conn, 0, n)
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if request {
				if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")); err != nil {
					t.Fatal(err)
				}
				res, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
				if err != nil {
					t.Fatal(err)
				}
				_ = res.Body.Close()
			}
		}
		if request {
			settleIdle()
		}
		st1 := stackNow()
		rss1, go1 := memNow()
		t.Logf("stack in use: %.2f KiB/conn before a GC, %.2f KiB/conn after", (st1-st0)/n/1024, (stackNow()-st0)/n/1024)
		return (rss1 - rss0) / n, (go1 - go0) / n
	}
	// Client-only baseline: a listener that accepts and holds.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	baseRSS, baseGo := measure(ln.Addr().String(), false)

	be := backend(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	r := newRig(t, be, rigOptions{})
	rss, goMem := measure(r.addr, true)
	t.Logf("per idle connection: engine+client RSS %.2f KiB, Go heap+stack %.2f KiB; client-only baseline RSS %.2f KiB, Go %.2f KiB",
		rss/1024, goMem/1024, baseRSS/1024, baseGo/1024)
	t.Logf("engine alone: RSS %.2f KiB/conn, Go heap+stack %.2f KiB/conn", (rss-baseRSS)/1024, (goMem-baseGo)/1024)
}

// settleIdle waits (bounded) until the connections have handed their idle
// wait to fresh goroutines (idleGrace after their request) and the stack
// in use stops falling, as the bench's idle scenario reads RSS about a
// second after the connections are open.
func settleIdle() {
	deadline := time.Now().Add(3 * time.Second)
	earliest := time.Now().Add(idleGrace)
	last := stackNow()
	for time.Now().Before(deadline) {
		time.Sleep(idleGrace / 4)
		st := stackNow()
		if time.Now().After(earliest) && st >= last {
			return
		}
		last = st
	}
}

// stackNow returns the goroutine stack bytes in use, without a GC (a GC
// shrinks stacks; the idle scenario of the bench sees them unshrunk when
// nothing allocates).
func stackNow() float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.StackInuse)
}

// memNow returns VmRSS and the Go heap in use plus stacks, after a GC.
func memNow() (rss, goMem float64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			rss = kb * 1024
		}
	}
	return rss, float64(ms.HeapInuse + ms.StackInuse)
}
