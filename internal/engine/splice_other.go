//go:build !linux

package engine

// splice(2) is Linux's: elsewhere bodies are copied through user space.

type pipe struct{ r, w int }

func spliceCopy(dst, src *fdIO, n int64) (int64, error) { return 0, errNoPipe }

func (f *fdIO) spliceInCB(fd uintptr) bool  { return true }
func (f *fdIO) spliceOutCB(fd uintptr) bool { return true }
