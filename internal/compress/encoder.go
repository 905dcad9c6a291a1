package compress

import (
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Window sizes bound the memory of each encoder in use (and of each one
// idle in a pool). They are well above a typical web response, so the
// ratio lost on larger bodies is small; see docs/compression.md for the
// measured memory per encoder.
const (
	zstdWindow  = 1 << 20 // bytes
	brotliLGWin = 20      // log2 bytes: 1 MiB
)

// encoder is a streaming compressor writing to the writer given to Reset.
// Flush emits everything written so far as a decodable unit (gzip/deflate
// sync flush, zstd block, brotli flush) without ending the stream; Close
// ends the stream but does not close the destination.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
	Reset(w io.Writer)
}

// encoderPool recycles encoders of one coding and level. Safe for
// concurrent use; idle encoders are released by the garbage collector
// (sync.Pool), so the pool itself holds no memory beyond what concurrent
// responses needed recently.
type encoderPool struct {
	enc   Encoding
	level int
	pool  sync.Pool
}

// levelRange is the valid level range of each coding, as its library
// defines it.
func levelRange(e Encoding) (lo, hi int) {
	switch e {
	case Gzip:
		return 1, 9
	case Zstd:
		return 1, 22
	case Brotli:
		return 0, 11
	}
	return 0, 0
}

// newEncoderPool validates level for e and builds one encoder up front, so
// an invalid setting fails at configuration time, not on a request.
func newEncoderPool(e Encoding, level int) (*encoderPool, error) {
	lo, hi := levelRange(e)
	if e == Identity || e >= numEncodings {
		return nil, fmt.Errorf("%w: %d", ErrUnknownEncoding, e)
	}
	if level < lo || level > hi {
		return nil, fmt.Errorf("%s level %d out of range %d..%d", e, level, lo, hi)
	}
	p := &encoderPool{enc: e, level: level}
	first, err := p.create()
	if err != nil {
		return nil, err
	}
	p.pool.Put(first)
	return p, nil
}

func (p *encoderPool) create() (encoder, error) {
	switch p.enc {
	case Gzip:
		w, err := gzip.NewWriterLevel(io.Discard, p.level)
		if err != nil {
			return nil, fmt.Errorf("gzip level %d: %w", p.level, err)
		}
		return w, nil
	case Zstd:
		w, err := zstd.NewWriter(io.Discard,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(p.level)),
			// One goroutine per encoder: concurrency comes from
			// concurrent responses, and a response must not start
			// GOMAXPROCS goroutines of its own.
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(zstdWindow),
			zstd.WithLowerEncoderMem(true),
			// An empty body still becomes a valid (empty) frame, which
			// every decoder accepts; zero bytes would not be.
			zstd.WithZeroFrames(true),
		)
		if err != nil {
			return nil, fmt.Errorf("zstd level %d: %w", p.level, err)
		}
		return w, nil
	case Brotli:
		return brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: p.level, LGWin: brotliLGWin}), nil
	}
	return nil, fmt.Errorf("%w: %d", ErrUnknownEncoding, p.enc)
}

// get returns an encoder writing to w. An error (only possible if the
// library refuses settings it accepted in newEncoderPool) means the caller
// sends the response unencoded.
func (p *encoderPool) get(w io.Writer) (encoder, error) {
	if v, ok := p.pool.Get().(encoder); ok {
		v.Reset(w)
		return v, nil
	}
	e, err := p.create()
	if err != nil {
		return nil, err
	}
	e.Reset(w)
	return e, nil
}

// put recycles e after Close. It drops the reference to the destination
// writer first, so a pooled encoder never keeps a response alive.
func (p *encoderPool) put(e encoder) {
	e.Reset(io.Discard)
	p.pool.Put(e)
}
