package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Disk-store defaults (docs/cache.md).
const (
	DefaultDiskSize          = 1 << 30
	DefaultDiskMinObjectSize = 1 << 20
)

// ErrDisk is wrapped by NewDisk's errors.
var ErrDisk = errors.New("cache: disk store")

// storeDirPrefix names the per-instance directories a Disk creates inside
// its path; only directories with this prefix are ever cleaned up, so a
// path shared with other files never loses them.
const (
	storeDirPrefix = "gatehouse-store-"
	lockName       = "lock"
)

// Disk is the directory that holds the bodies of large stored responses
// (the optional on-disk store). Each Disk owns a fresh subdirectory of its
// path, created 0700 and locked (flock) for its lifetime; NewDisk removes
// the subdirectories of earlier processes whose lock is free, so the disk
// store is not persistent across restarts. Close removes the subdirectory.
// Accounting and eviction are the Store's (NewStoreWithDisk). Safe for
// concurrent use.
type Disk struct {
	dir      string // the instance's subdirectory
	capacity int64
	lock     *os.File
	seq      atomic.Uint64
}

// NewDisk prepares the disk store under path (created 0700 if missing),
// bounded by capacity bytes of bodies. It returns an error wrapping ErrDisk
// for an empty path, a non-positive capacity or a directory that cannot be
// created or locked.
func NewDisk(path string, capacity int64) (*Disk, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: path is empty", ErrDisk)
	}
	if capacity <= 0 {
		return nil, fmt.Errorf("%w: size must be positive", ErrDisk)
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDisk, err)
	}
	removeStale(path)
	dir, err := os.MkdirTemp(path, storeDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDisk, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		// Without flock (non-unix) the store still works; only the
		// clean-up of leftovers is skipped.
		if err = lockFile(lock); errors.Is(err, errors.ErrUnsupported) {
			err = nil
		} else if err != nil {
			_ = lock.Close()
		}
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: lock: %w", ErrDisk, err)
	}
	return &Disk{dir: dir, capacity: capacity, lock: lock}, nil
}

// removeStale deletes the store directories under path that no live Disk
// holds (their lock is free): leftovers of a process that ended.
func removeStale(path string) {
	ents, err := os.ReadDir(path)
	if err != nil {
		return
	}
	for _, de := range ents {
		if !de.IsDir() || !strings.HasPrefix(de.Name(), storeDirPrefix) {
			continue
		}
		dir := filepath.Join(path, de.Name())
		f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0)
		if err != nil {
			continue // being created right now, or not ours to judge
		}
		if lockFile(f) == nil {
			_ = os.RemoveAll(dir)
		}
		_ = f.Close()
	}
}

// Dir is the instance's subdirectory holding the object files.
func (d *Disk) Dir() string { return d.dir }

// Capacity is the bound on stored bodies, in bytes.
func (d *Disk) Capacity() int64 { return d.capacity }

// Close removes the instance's directory and every file in it. Responses
// being served from it keep their open files until they end.
func (d *Disk) Close() error {
	err := os.RemoveAll(d.dir)
	_ = d.lock.Close()
	return err
}

// createTemp opens a new temporary file (0600) for a body being filled. It
// is renamed into place by commit only when the response ended complete.
func (d *Disk) createTemp() (*os.File, error) {
	return os.CreateTemp(d.dir, "fill-*.tmp")
}

// commit closes tmp and renames it to the object file of the entry (a
// hash of its keys plus a sequence number: a replacement never overwrites
// the file a response may still be served from).
func (d *Disk) commit(tmp *os.File, e *Entry, size int64) (*diskObject, error) {
	name := tmp.Name()
	if err := tmp.Close(); err != nil {
		_ = os.Remove(name)
		return nil, err
	}
	h := sha256.New()
	for _, s := range append([]string{e.Key, e.Variant}, e.varyVals...) {
		_, _ = io.WriteString(h, s)
		_, _ = h.Write([]byte{0})
	}
	final := filepath.Join(d.dir, hex.EncodeToString(h.Sum(nil)[:16])+"-"+strconv.FormatUint(d.seq.Add(1), 10))
	if err := os.Rename(name, final); err != nil {
		_ = os.Remove(name)
		return nil, err
	}
	return &diskObject{path: final, size: size}, nil
}

// discardTemp closes and removes a temporary file of an abandoned fill.
func discardTemp(tmp *os.File) {
	_ = tmp.Close()
	_ = os.Remove(tmp.Name())
}

// diskObject is one body file. refs (under the Store's lock) counts the
// stored entries using it (a 304 merge shares the file with the entry it
// replaces); at zero the file is deleted. deleted is set before the file is
// unlinked, under mu, so open never races with the removal: a reader
// either gets an open file (which outlives the unlink) or errObjectGone.
type diskObject struct {
	path string
	size int64
	refs int

	mu      sync.Mutex
	deleted bool

	// owner is the stored entry using the file (for eviction); prev, next
	// and listed are the Store's disk LRU. All under the Store's lock.
	owner      *Entry
	prev, next *diskObject
	listed     bool
}

// errObjectGone says the body file was evicted or purged between the
// lookup and the read; the caller treats the entry as missing.
var errObjectGone = errors.New("cache: stored body is gone")

func (o *diskObject) open() (*os.File, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.deleted {
		return nil, errObjectGone
	}
	return os.Open(o.path)
}

// markDeleted makes further opens fail; the caller then unlinks the file.
func (o *diskObject) markDeleted() {
	o.mu.Lock()
	o.deleted = true
	o.mu.Unlock()
}

func (o *diskObject) isDeleted() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.deleted
}
