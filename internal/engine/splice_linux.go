package engine

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
)

// pipeSize is what a splice pipe is asked to hold (F_SETPIPE_SZ): a
// 100 KiB body then crosses in one round of two splices instead of two
// rounds at the default 64 KiB. It is Go's own choice for its splice
// pipes; a pipe only holds memory for the bytes it carries.
const pipeSize = 1 << 20

// fSetPipeSz is F_SETPIPE_SZ (fcntl(2)), absent from package syscall.
const fSetPipeSz = 1031

// spliceFlags: never block (the sockets are non-blocking too; waiting is
// the poller's job), and move pages instead of copying where possible.
const spliceFlags = 0x1 | 0x2 // SPLICE_F_MOVE | SPLICE_F_NONBLOCK

// pipe is a pooled kernel pipe for splice(2). A pipe goes back to the pool
// only empty; one left holding bytes by an error is closed.
type pipe struct {
	r, w    int
	size    int
	cleanup runtime.Cleanup
}

var pipePool = sync.Pool{New: func() any {
	p, err := newPipe()
	if err != nil {
		return nil
	}
	return p
}}

func newPipe() (*pipe, error) {
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return nil, err
	}
	p := &pipe{r: fds[0], w: fds[1], size: 64 << 10}
	if n, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(p.w), fSetPipeSz, pipeSize); e == 0 {
		p.size = int(n)
	}
	// A pipe dropped by the pool is closed when collected.
	p.cleanup = runtime.AddCleanup(p, func(fds [2]int) {
		_ = syscall.Close(fds[0])
		_ = syscall.Close(fds[1])
	}, fds)
	return p, nil
}

func getPipe() *pipe {
	p, _ := pipePool.Get().(*pipe)
	return p
}

// spliceCopy moves n bytes from src to dst through a pooled pipe, in
// rounds of one splice in and one splice out (the second may take several
// calls when dst's socket buffer fills). It returns the bytes delivered to
// dst; err is io.ErrUnexpectedEOF when src ended early, errNoPipe before
// anything moved when no pipe was available, or the failing side's error:
// src's read errors as they come from src.read, dst's wrapped in
// errSpliceOut.
func spliceCopy(dst, src *fdIO, n int64) (int64, error) {
	p := getPipe()
	if p == nil {
		return 0, errNoPipe
	}
	var moved int64
	for moved < n {
		src.op, src.pipe, src.want, src.n, src.err = opSpliceIn, p, int(min(n-moved, int64(p.size))), 0, nil
		err := src.rc.Read(src.fn)
		src.pipe = nil
		if err == nil {
			err = src.err
		}
		if err != nil {
			pipePool.Put(p) // nothing entered the pipe
			return moved, err
		}
		if src.n == 0 {
			pipePool.Put(p)
			return moved, io.ErrUnexpectedEOF
		}
		dst.op, dst.pipe, dst.want, dst.n, dst.err = opSpliceOut, p, src.n, 0, nil
		err = dst.rc.Write(dst.fn)
		dst.pipe = nil
		moved += int64(dst.n)
		if err == nil {
			err = dst.err
		}
		if err != nil {
			// Bytes may be left in the pipe: not reusable.
			closePipe(p)
			return moved, fmt.Errorf("%w: %w", errSpliceOut, err)
		}
	}
	pipePool.Put(p)
	return moved, nil
}

// closePipe closes p now and cancels its cleanup, which would otherwise
// close the same descriptor numbers again, by then perhaps reused.
func closePipe(p *pipe) {
	p.cleanup.Stop()
	_ = syscall.Close(p.r)
	_ = syscall.Close(p.w)
}

func (f *fdIO) spliceInCB(fd uintptr) bool {
	for {
		n, e := rawSplice(fd, uintptr(f.pipe.w), f.want)
		switch e {
		case 0:
			f.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		f.err = os.NewSyscallError("splice", e)
		return true
	}
}

func (f *fdIO) spliceOutCB(fd uintptr) bool { return f.push(fd, f.want, "splice", spliceSome) }

func spliceSome(f *fdIO, fd uintptr) (int, syscall.Errno) {
	return rawSplice(uintptr(f.pipe.r), fd, f.want-f.n)
}

func rawSplice(in, out uintptr, n int) (int, syscall.Errno) {
	m, _, e := syscall.RawSyscall6(syscall.SYS_SPLICE, in, 0, out, 0, uintptr(n), spliceFlags)
	return int(m), e
}
