package protocol

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
)

// RequestIDLen is the length of the IDs NewRequestID makes.
const RequestIDLen = 26

// MaxRequestIDLen is the longest client-sent request ID ValidRequestID
// accepts.
const MaxRequestIDLen = 128

// base32hex is RFC 4648 §7 "base32hex" in lower case: digits then a-v.
const base32hex = "0123456789abcdefghijklmnopqrstuv"

// RequestIDGenerator makes request IDs that are unique within the process
// and, with overwhelming probability, across processes and instances: a
// 64-bit random instance prefix followed by a 64-bit counter scrambled by a
// keyed bijection. It takes no lock: Next is one atomic add and an encode,
// safe for concurrent use.
//
// The counter is scrambled (a bijection, so IDs of one generator never
// repeat until 2^64 calls) so IDs do not reveal request volume and are not
// trivially guessable; they are still not secrets and must not be used as
// credentials.
type RequestIDGenerator struct {
	prefix uint64
	key    uint64
	n      atomic.Uint64
}

// NewRequestIDGenerator seeds a generator with 16 bytes read from rnd
// (crypto/rand.Reader in production, a fixed reader in tests). It returns
// an error, wrapped, if rnd cannot supply them.
func NewRequestIDGenerator(rnd io.Reader) (*RequestIDGenerator, error) {
	var seed [16]byte
	if _, err := io.ReadFull(rnd, seed[:]); err != nil {
		return nil, fmt.Errorf("seeding request IDs: %w", err)
	}
	return &RequestIDGenerator{
		prefix: binary.BigEndian.Uint64(seed[:8]),
		key:    binary.BigEndian.Uint64(seed[8:]),
	}, nil
}

// Next returns a new ID: RequestIDLen (26) characters of [0-9a-v], so it
// always satisfies ValidRequestID. It allocates only the returned string.
func (g *RequestIDGenerator) Next() string {
	var b [RequestIDLen]byte
	return string(g.AppendNext(b[:0]))
}

// AppendNext appends a new ID (as Next makes) to dst: the own engine writes
// it into per-request storage, so generating an ID allocates nothing.
func (g *RequestIDGenerator) AppendNext(dst []byte) []byte {
	n := g.n.Add(1)
	dst = slices.Grow(dst, RequestIDLen)
	b := dst[len(dst) : len(dst)+RequestIDLen]
	encode13(b[:13], g.prefix)
	encode13(b[13:], mix64(n^g.key))
	return dst[:len(dst)+RequestIDLen]
}

// mix64 is the SplitMix64 finaliser, a bijection on uint64 (each step -
// xor-shift, multiply by an odd constant - is invertible).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// encode13 writes v as 13 base32hex digits (65 bits, the top one zero),
// most significant first.
func encode13(dst []byte, v uint64) {
	for i := 12; i >= 0; i-- {
		dst[i] = base32hex[v&31]
		v >>= 5
	}
}

// processIDs is the process-wide generator behind NewRequestID. It is set
// once at package initialisation and is read-only after that apart from its
// atomic counter, like a registry; code that needs deterministic IDs takes a
// *RequestIDGenerator instead.
var processIDs = func() *RequestIDGenerator {
	// crypto/rand.Reader never fails (Go 1.24+: it crashes the program
	// irrecoverably instead), so the error branch is unreachable; a fixed
	// seed there still yields process-unique IDs.
	g, err := NewRequestIDGenerator(rand.Reader)
	if err != nil {
		return &RequestIDGenerator{}
	}
	return g
}()

// NewRequestID returns a new request ID from the process-wide generator:
// 26 characters of [0-9a-v], unique across instances, without taking a
// lock. Safe for concurrent use.
func NewRequestID() string {
	return processIDs.Next()
}

// AppendRequestID appends a new ID from the process-wide generator to dst.
func AppendRequestID(dst []byte) []byte {
	return processIDs.AppendNext(dst)
}

// ValidRequestID reports whether a client-sent request ID may be reused as
// is: 1 to MaxRequestIDLen (128) characters of [A-Za-z0-9._:-]. Anything
// else (spaces, quotes, control characters, '=' or '"' that would forge
// fields in a log line or a header) is refused, and the caller makes a new
// ID. It does not allocate.
func ValidRequestID(s string) bool {
	if len(s) == 0 || len(s) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !requestIDChar[s[i]] {
			return false
		}
	}
	return true
}

// requestIDChar marks [A-Za-z0-9._:-]. A constant table, never written.
var requestIDChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "._:-" {
		t[c] = true
	}
	return t
}()
