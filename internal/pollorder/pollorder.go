// Package pollorder reports the order in which this binary's Go runtime
// wakes goroutines whose sockets became ready together.
//
// Stock Go runs a batch of ready goroutines from one epoll_wait in reverse:
// runtime.netpoll pushes each onto the head of a list, so the connection
// whose bytes arrived first is served last. nginx serves a batch in the
// kernel's order. Under saturation the reversal is a longer latency tail at
// the same CPU and throughput: with it, Gatehouse's p99 on small requests
// was 2.4-2.6 times its median, nginx's 1.5-1.9 (docs/performance.md,
// "p99: the poller's order").
//
// `make build` and `make test` compile the runtime with a one-line patch
// that walks the events the other way (scripts/netpoll-fifo.sh, passed to
// the go command as a -overlay in GOFLAGS). The same overlay adds a file
// to this package that sets fifo, so a binary can say how it was built. A
// plain `go build` gets the stock runtime: everything works, with the
// longer tail.
package pollorder

// fifo is set by the file the build overlay adds (zz_fifo_overlay.go).
var fifo bool

// FIFO reports whether the runtime was built to wake ready goroutines in
// the order the kernel reported them.
func FIFO() bool { return fifo }

// String names the wake order, for version output.
func String() string {
	if fifo {
		return "netpoll fifo"
	}
	return "netpoll stock"
}
