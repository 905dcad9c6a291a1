package proxy

import (
	"io"
	"net/http"
)

// peekBody reads the first byte of a request body of unknown length (HTTP/1.1
// chunked, RFC 9112 §7.1) before anything is sent upstream, so a malformed
// first chunk (net/http's chunked reader fails) is answered with 400 and the
// backend never sees a half request. The cost: the exchange waits for the
// client's first chunk (bounded by the server's read timeout) before
// connecting. A body that is empty becomes no body.
//
// It is skipped for "Expect: 100-continue": reading would make net/http send
// "100 Continue" before the backend has agreed to take the body (RFC 9110
// §10.1.1); then a bad chunk is found while streaming and ends the exchange
// as a 502-class failure instead.
func peekBody(r *http.Request) error {
	if r.ContentLength != -1 || r.Body == nil || r.Body == http.NoBody || r.Header.Get("Expect") != "" {
		return nil
	}
	pb := &peekedBody{rc: r.Body}
	n, err := io.ReadFull(r.Body, pb.first[:])
	switch {
	case n == 1:
		pb.has = true
		r.Body = pb
		return nil
	case err == io.EOF:
		r.Body = http.NoBody
		r.ContentLength = 0
		return nil
	default:
		return err
	}
}

// peekedBody returns the peeked byte, then the rest of the body.
type peekedBody struct {
	rc    io.ReadCloser
	first [1]byte
	has   bool
}

func (b *peekedBody) Read(p []byte) (int, error) {
	if b.has {
		if len(p) == 0 {
			return 0, nil
		}
		// Return the byte alone rather than block for more: the caller
		// streams, so a short read costs one extra Read call, once.
		p[0] = b.first[0]
		b.has = false
		return 1, nil
	}
	return b.rc.Read(p)
}

func (b *peekedBody) Close() error { return b.rc.Close() }
