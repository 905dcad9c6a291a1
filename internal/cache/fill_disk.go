package cache

import (
	"os"
)

// whyDisk is the Cache-Status detail when a large body could not get a
// file in the disk store (the response streams on, unstored).
const whyDisk = "disk-error"

// toDisk reports whether a body of n bytes belongs in the disk store.
func (f *fillWriter) toDisk(n int64) bool {
	return f.c.store.disk != nil && n >= f.c.opts.DiskMinObjectSize
}

// startFile opens the temporary file a body on its way to the disk store
// is written to; it holds what was buffered so far. false means the fill
// is abandoned (the file could not be created or written).
func (f *fillWriter) startFile() bool {
	tmp, err := f.c.store.disk.createTemp()
	if err != nil {
		f.c.opts.Logger.Warn("cache: disk store: cannot create a file; response not stored", "error", err)
		f.storing, f.buf = false, nil
		return false
	}
	f.tmp = tmp
	if len(f.buf) > 0 {
		if _, err := tmp.Write(f.buf); err != nil {
			f.diskFailed(err)
			return false
		}
	}
	f.buf = nil
	return true
}

// keep adds b to the copy being stored: in memory until the body reaches
// the disk store's minimum object size, in the temporary file after that.
// Past the maximum object size, or on a write error, the fill is
// abandoned and the response streams on.
func (f *fillWriter) keep(b []byte) {
	if f.kept+int64(len(b)) > f.c.opts.MaxObjectSize {
		f.discard()
		return
	}
	f.kept += int64(len(b))
	if f.tmp != nil {
		if _, err := f.tmp.Write(b); err != nil {
			f.diskFailed(err)
		}
		return
	}
	f.buf = append(f.buf, b...)
	if f.toDisk(f.kept) {
		f.startFile()
	}
}

func (f *fillWriter) diskFailed(err error) {
	f.c.opts.Logger.Warn("cache: disk store: write failed; response not stored", "error", err)
	f.discard()
}

// discard abandons the fill and deletes its temporary file, if any: a
// response that ends short, panics (http.ErrAbortHandler) or outgrows the
// limit never leaves a file behind. Safe to call more than once.
func (f *fillWriter) discard() {
	f.storing, f.buf = false, nil
	if f.tmp != nil {
		discardTemp(f.tmp)
		f.tmp = nil
	}
}

// commitBody moves the filled body into e: the buffer, or the temporary
// file renamed into place (only now, the response being complete, does
// the file become visible under its final name). false: nothing stored.
func (f *fillWriter) commitBody(e *Entry) bool {
	if f.tmp == nil {
		e.Body = f.buf
		return true
	}
	o, err := f.c.store.disk.commit(f.tmp, e, f.kept)
	f.tmp = nil
	if err != nil {
		f.c.opts.Logger.Warn("cache: disk store: cannot commit a file; response not stored", "error", err)
		return false
	}
	e.disk = o
	return true
}

// removeUnstored deletes the file of an entry the store refused.
func removeUnstored(e *Entry) {
	if e.disk != nil {
		_ = os.Remove(e.disk.path)
	}
}
