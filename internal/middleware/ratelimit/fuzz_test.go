package ratelimit

import (
	"net/http"
	"net/url"
	"testing"
)

// FuzzParseSource: any key source string either parses or is an error
// wrapping ErrBadKey; never a panic.
func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"client_ip", "route", "header:X-Api-Key", "query:k", "{header.X}-{query.y}",
		"header:", "query:", "header:bad name", "{", "{nope}", "cookie:x", "header:X:Y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := parseSource(s)
		if err != nil {
			return
		}
		if src.kind == 0 {
			t.Fatalf("%q parsed to no kind", s)
		}
	})
}

// FuzzKeyExtract: hostile header, query and address values never panic,
// and the same request always gives the same key.
func FuzzKeyExtract(f *testing.F) {
	f.Add("k", "a=1&k=2", "192.0.2.1:1")
	f.Add("", "k", "[2001:db8::1%eth0]:9")
	f.Add("\x00\xff", "%zz&k=%00", "garbage")
	ks, err := parseKeySpec([]string{"client_ip", "header:X-Api-Key", "query:k", "{header.X-Api-Key}{query.k}"}, 24, 56)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, hdr, query, remote string) {
		r := &http.Request{Header: http.Header{"X-Api-Key": {hdr, hdr + "2"}}, URL: &url.URL{Path: "/", RawQuery: query}, RemoteAddr: remote}
		k1, ok1 := ks.extract(r)
		k2, ok2 := ks.extract(r)
		if k1 != k2 || ok1 != ok2 {
			t.Fatal("extraction is not deterministic")
		}
		ks.clientIPKey(r)
	})
}
