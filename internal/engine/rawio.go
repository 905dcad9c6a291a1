package engine

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// fdIO does the hot path's reads and writes of one connection through its
// syscall.RawConn, with raw system calls: the descriptor is non-blocking,
// so a call never waits in the kernel, and Go's poller still does the
// waiting (with the connection's deadlines) when one returns EAGAIN.
//
// Why not net.Conn's Read and Write: those enter the runtime's syscall
// state around every call. Leaving it wakes the scheduler's monitor
// thread (sysmon) whenever the process was idle before, after which it
// polls every 20 µs for a millisecond, and a call it sees twice in that
// state (a long splice) has its P handed to another thread. On a proxy
// pinned to one core both steal that core from the requests: ~5 % of the
// CPU in the 100 KiB profile, and context switches that show in p99.
// A non-blocking call is as short as any user-space work, so it can run
// as such.
//
// An fdIO is used by one goroutine at a time (the connection's owner). Its
// one callback is a method value made once, so a call allocates nothing;
// op tells it what to do (one callback, not four, because every idle
// client connection carries its fdIO).
type fdIO struct {
	rc syscall.RawConn
	fn func(uintptr) bool
	// The current call's operation, arguments and results.
	op   uint8
	p    []byte
	n    int
	err  error
	pipe *pipe
	want int
}

// The operations of fdIO.call.
const (
	opRead uint8 = iota
	opWrite
	opSpliceIn
	opSpliceOut
	opPeek
)

// call is the RawConn callback: false means "wait until ready, then call
// again".
func (f *fdIO) call(fd uintptr) bool {
	switch f.op {
	case opRead:
		return f.readCB(fd)
	case opWrite:
		return f.writeCB(fd)
	case opSpliceIn:
		return f.spliceInCB(fd)
	case opPeek:
		f.peekCB(fd)
		return true
	default:
		return f.spliceOutCB(fd)
	}
}

// init readies f for nc; false when nc has no descriptor (then the
// caller uses nc's own methods).
func (f *fdIO) init(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	f.rc = rc
	f.fn = f.call
	return true
}

// read is net.Conn.Read: at least one byte, or an error (io.EOF when the
// peer closed).
func (f *fdIO) read(p []byte) (int, error) {
	f.op, f.p, f.n, f.err = opRead, p, 0, nil
	err := f.rc.Read(f.fn)
	f.p = nil
	switch {
	case err != nil:
		return 0, err
	case f.err != nil:
		return 0, f.err
	case f.n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return f.n, nil
}

func (f *fdIO) readCB(fd uintptr) bool {
	for {
		n, e := rawRead(fd, f.p)
		switch e {
		case 0:
			f.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		f.err = os.NewSyscallError("read", e)
		return true
	}
}

// write is net.Conn.Write: all of p, or an error with the count written.
func (f *fdIO) write(p []byte) (int, error) {
	f.op, f.p, f.n, f.err = opWrite, p, 0, nil
	err := f.rc.Write(f.fn)
	n := f.n
	f.p = nil
	if err == nil {
		err = f.err
	}
	return n, err
}

func (f *fdIO) writeCB(fd uintptr) bool { return f.push(fd, len(f.p), "write", writeSome) }

func writeSome(f *fdIO, fd uintptr) (int, syscall.Errno) { return rawWrite(fd, f.p[f.n:]) }

// push calls some until f.n reaches want: false when the socket is full
// (wait for it and call again), true when done or failed (f.err).
func (f *fdIO) push(fd uintptr, want int, name string, some func(*fdIO, uintptr) (int, syscall.Errno)) bool {
	for f.n < want {
		n, e := some(f, fd)
		switch e {
		case 0:
			f.n += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			f.err = os.NewSyscallError(name, e)
			return true
		}
	}
	return true
}

// peekIdle reports whether the peer closed the connection, or sent bytes
// nobody asked for, while it idled: one non-blocking MSG_PEEK, no wait.
// false when the connection is as it was left (nothing to read yet).
func (f *fdIO) peekIdle() bool {
	f.op, f.n, f.err = opPeek, 0, nil
	if err := f.rc.Read(f.fn); err != nil {
		return true
	}
	return f.err != nil || f.n != 0
}

// peekCB sets f.n to 1 when a byte or the end of the stream is there
// (recv returns 0 at EOF), f.err on a socket error, and leaves both zero
// when the socket has nothing (EAGAIN).
func (f *fdIO) peekCB(fd uintptr) {
	var b [1]byte
	for {
		_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			// A byte, or the end of the stream (recv returned 0):
			// either way not the connection as it was left.
			f.n = 1
			return
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return
		}
		f.err = os.NewSyscallError("recvfrom", e)
		return
	}
}

// errNoPipe: splice is not available (no pipe could be made, a descriptor
// limit, or not Linux); the caller copies through user space instead.
var errNoPipe = errors.New("engine: no splice pipe")

// errSpliceOut marks a spliceCopy error on the destination's side (the
// peer that was written to), so callers blame the right peer.
var errSpliceOut = errors.New("writing spliced bytes")

func rawRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(bufPtr(p)), uintptr(len(p)))
	return int(n), e
}

func rawWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(bufPtr(p)), uintptr(len(p)))
	return int(n), e
}

// bufPtr is p's first byte, or nil for an empty p.
func bufPtr(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Pointer(&p[0])
}
