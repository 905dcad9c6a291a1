package ratelimit

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
)

// ErrBadKey is wrapped by errors about a key source.
var ErrBadKey = errors.New("invalid key source")

// keyHash identifies a bucket: the first 128 bits of SHA-256 over the
// key's parts. Fixed size keeps the store's memory per key constant however
// long a header is; a cryptographic hash keeps a client from choosing a
// value that lands in someone else's bucket (a second preimage).
type keyHash [16]byte

// sourceKind is what a key part is made of.
type sourceKind uint8

const (
	srcClientIP sourceKind = iota + 1
	srcHeader
	srcQuery
	srcRoute
	srcHost
	srcMethod
	srcTemplate
)

// source is one element of the `key` list.
type source struct {
	kind sourceKind
	name string // header (canonical) or query parameter name
	tmpl placeholder.Template
}

// Default prefix lengths for client_ip: one IPv4 address, one IPv6 /64
// (the smallest network an ISP normally hands to one customer, RFC 6177,
// so a client cannot rotate through its 2^64 addresses to escape).
const (
	DefaultIPv4Prefix = 32
	DefaultIPv6Prefix = 64
)

// keySpec turns a request into a bucket key.
type keySpec struct {
	sources []source
	v4bits  int
	v6bits  int
}

// parseKeySpec reads the `key` list: client_ip, route, host, method,
// header:NAME, query:NAME, or a placeholder template ("{header.X}-{query.y}").
func parseKeySpec(list []string, v4bits, v6bits int) (keySpec, error) {
	if v4bits < 0 || v4bits > 32 {
		return keySpec{}, fmt.Errorf("%w: ipv4_prefix %d must be between 0 and 32", ErrBadKey, v4bits)
	}
	if v6bits < 0 || v6bits > 128 {
		return keySpec{}, fmt.Errorf("%w: ipv6_prefix %d must be between 0 and 128", ErrBadKey, v6bits)
	}
	k := keySpec{v4bits: v4bits, v6bits: v6bits}
	if len(list) == 0 {
		list = []string{"client_ip"}
	}
	for _, s := range list {
		src, err := parseSource(s)
		if err != nil {
			return keySpec{}, err
		}
		k.sources = append(k.sources, src)
	}
	return k, nil
}

func parseSource(s string) (source, error) {
	switch s {
	case "client_ip":
		return source{kind: srcClientIP}, nil
	case "route":
		return source{kind: srcRoute}, nil
	case "host":
		return source{kind: srcHost}, nil
	case "method":
		return source{kind: srcMethod}, nil
	}
	if strings.Contains(s, "{") {
		t, err := placeholder.Compile(s)
		if err != nil {
			return source{}, fmt.Errorf("%w %q: %w", ErrBadKey, s, err)
		}
		return source{kind: srcTemplate, name: s, tmpl: t}, nil
	}
	kind, name, ok := strings.Cut(s, ":")
	switch {
	case ok && kind == "header" && placeholder.ValidFieldName(name):
		return source{kind: srcHeader, name: http.CanonicalHeaderKey(name)}, nil
	case ok && kind == "query" && name != "":
		return source{kind: srcQuery, name: name}, nil
	}
	return source{}, fmt.Errorf(`%w %q: use client_ip, route, host, method, "header:NAME", "query:NAME" or a placeholder template like "{header.X-Tenant}"`, ErrBadKey, s)
}

// extract returns the request's bucket key; ok is false when a source is
// absent (header or query parameter missing, template rendering empty, no
// client IP), for the caller's on_missing_key policy.
func (k *keySpec) extract(r *http.Request) (h keyHash, ok bool) {
	var arr [256]byte
	b := arr[:0]
	info := observe.InfoFrom(r.Context())
	for i, s := range k.sources {
		b = append(b, byte(s.kind), byte(i))
		switch s.kind {
		case srcClientIP:
			ip, found := k.clientIP(r, info)
			if !found {
				return h, false
			}
			b = appendAddr(b, ip)
		case srcRoute:
			if info != nil {
				b = appendPart(b, info.Route)
			}
		case srcHost:
			b = appendPart(b, r.Host)
		case srcMethod:
			b = appendPart(b, r.Method)
		case srcHeader:
			// Every field line counts: keying on the first alone would let
			// a client add decoys in front of the value the backend uses.
			vs := r.Header[s.name]
			if len(vs) == 0 || (len(vs) == 1 && vs[0] == "") {
				return h, false
			}
			b = binary.AppendUvarint(b, uint64(len(vs)))
			for _, v := range vs {
				b = appendPart(b, v)
			}
		case srcQuery:
			vs := r.URL.Query()[s.name]
			if len(vs) == 0 {
				return h, false
			}
			b = binary.AppendUvarint(b, uint64(len(vs)))
			for _, v := range vs {
				b = appendPart(b, v)
			}
		case srcTemplate:
			v := s.tmpl.Render(r)
			if v == "" {
				return h, false
			}
			b = appendPart(b, v)
		}
	}
	return hashKey(b), true
}

// clientIPKey is the key of the client's address alone (the fallback for
// a missing key part); ok is false when no address is known.
func (k *keySpec) clientIPKey(r *http.Request) (keyHash, bool) {
	ip, ok := k.clientIP(r, observe.InfoFrom(r.Context()))
	if !ok {
		return keyHash{}, false
	}
	var arr [32]byte
	return hashKey(appendAddr(append(arr[:0], 0xff), ip)), true
}

// clientIP is the real client address (after trusted-proxy handling, from
// the request info; the socket peer when there is none), masked to the
// configured prefix. IPv4-mapped IPv6 counts as IPv4.
func (k *keySpec) clientIP(r *http.Request, info *observe.RequestInfo) (netip.Prefix, bool) {
	var ip netip.Addr
	if info != nil {
		ip = info.ClientIP
	}
	if !ip.IsValid() {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return netip.Prefix{}, false
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap().WithZone("")
	bits := k.v6bits
	if ip.Is4() {
		bits = k.v4bits
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

func appendAddr(b []byte, p netip.Prefix) []byte {
	a := p.Addr().As16()
	b = append(b, a[:]...)
	return append(b, byte(p.Bits()))
}

// appendPart writes a length-prefixed value, so that ("ab","c") and
// ("a","bc") never make the same key.
func appendPart(b []byte, v string) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func hashKey(b []byte) keyHash {
	sum := sha256.Sum256(b)
	var h keyHash
	copy(h[:], sum[:16])
	return h
}
