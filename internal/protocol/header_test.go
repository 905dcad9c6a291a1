package protocol

import (
	"net/http"
	"net/textproto"
	"testing"
)

// strictHeader is an http.Header that fails the test when a protocol
// function passes a non-canonical name, which the Header contract forbids
// (the own engine's header type relies on it).
type strictHeader struct {
	t testing.TB
	h http.Header
}

func (s strictHeader) check(name string) {
	s.t.Helper()
	if c := textproto.CanonicalMIMEHeaderKey(name); c != name {
		s.t.Errorf("non-canonical header name %q passed (want %q)", name, c)
	}
}

func (s strictHeader) Get(name string) string      { s.check(name); return s.h.Get(name) }
func (s strictHeader) Values(name string) []string { s.check(name); return s.h.Values(name) }
func (s strictHeader) Set(name, value string)      { s.check(name); s.h.Set(name, value) }
func (s strictHeader) Add(name, value string)      { s.check(name); s.h.Add(name, value) }
func (s strictHeader) Del(name string)             { s.check(name); s.h.Del(name) }

// hdr builds an http.Header from name, value pairs (names canonicalised,
// repeated names add fields).
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}
