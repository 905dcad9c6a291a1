package protocol

import (
	"errors"
	"fmt"
	"io"
)

// ErrContentLength: a body shorter or longer than its Content-Length
// (RFC 9112 §6.3: the length is the exact number of body bytes).
var ErrContentLength = errors.New("body does not match its Content-Length")

// AppendContent appends exactly n bytes read from r to dst, then reads on
// until r reports its end, so that a reader that acts at the end of a body
// (the proxy's starts the response-header wait) sees it. A body that ends
// early or goes on wraps ErrContentLength; r's other errors are returned as
// they are. On error dst is returned as it was.
func AppendContent(dst []byte, r io.Reader, n int) ([]byte, error) {
	out := append(dst, make([]byte, n)...)
	if _, err := io.ReadFull(r, out[len(dst):]); err != nil {
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return dst, fmt.Errorf("%w: shorter than %d bytes", ErrContentLength, n)
		}
		return dst, err
	}
	var one [1]byte
	for range 100 { // a reader that keeps returning (0, nil) is broken
		m, err := r.Read(one[:])
		switch {
		case m > 0:
			return dst, fmt.Errorf("%w: longer than %d bytes", ErrContentLength, n)
		case err == io.EOF:
			return out, nil
		case err != nil:
			return dst, err
		}
	}
	return dst, io.ErrNoProgress
}
