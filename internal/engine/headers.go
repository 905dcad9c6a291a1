package engine

import (
	"strings"
	"unsafe"
)

// field is one header field line. name and value usually view the
// connection's head buffer (see view); fields added by Set/Add hold the
// caller's strings.
type field struct {
	name, value string
	deleted     bool
}

// Header is the header section of a message parsed by the engine. It
// implements protocol.Header, so the shared rules (RemoveHopByHop,
// SetForwarded, ClientIP) run on it unchanged.
//
// Names are matched ASCII case-insensitively (RFC 9110 §5.1); names and
// values read from the wire keep their original spelling and order, which
// is how they are forwarded. Strings returned by Get and Values view the
// connection's buffer and are valid only until the handler returns: copy
// (strings.Clone) anything kept longer. A Header is not safe for
// concurrent use. Its methods do not allocate once the connection's first
// requests have grown its slices.
type Header struct {
	fields []field
	// vals backs the slices Values returns. It only grows during one
	// message, so an earlier Values result is never overwritten by a
	// later call (SetForwarded holds two at once).
	vals []string
	// arena holds values set with SetBytes; the strings alias it and live
	// until reset, like the fields that alias the read buffer.
	arena []byte
}

// reset empties h, keeping its storage.
func (h *Header) reset() {
	clear(h.fields) // drop references into old buffers
	h.fields = h.fields[:0]
	h.arena = h.arena[:0]
	clear(h.vals)
	h.vals = h.vals[:0]
}

// addView appends a field parsed from the wire.
func (h *Header) addView(name, value []byte) {
	h.fields = append(h.fields, field{name: view(name), value: view(value)})
}

// Get returns the first value of name, or "".
func (h *Header) Get(name string) string {
	for i := range h.fields {
		f := &h.fields[i]
		if !f.deleted && sameName(f.name, name) {
			return f.value
		}
	}
	return ""
}

// Has reports whether a field named name is present.
func (h *Header) Has(name string) bool {
	for i := range h.fields {
		f := &h.fields[i]
		if !f.deleted && sameName(f.name, name) {
			return true
		}
	}
	return false
}

// Values returns every value of name in order, or nil. The slice must not
// be modified; it stays valid until the handler returns.
func (h *Header) Values(name string) []string {
	start := len(h.vals)
	for i := range h.fields {
		f := &h.fields[i]
		if !f.deleted && sameName(f.name, name) {
			h.vals = append(h.vals, f.value)
		}
	}
	if len(h.vals) == start {
		return nil
	}
	return h.vals[start:len(h.vals):len(h.vals)]
}

// Set replaces every field named name by one with value.
func (h *Header) Set(name, value string) {
	h.Del(name)
	h.fields = append(h.fields, field{name: name, value: value})
}

// SetBytes is Set with the value copied into h's own storage, so no
// string is allocated (protocol.BytesSetter). b is not retained; it may be
// a slice ValueBuf returned, which is then stored without a copy.
func (h *Header) SetBytes(name string, b []byte) {
	if len(b) == 0 {
		h.Set(name, "")
		return
	}
	start := len(h.arena)
	h.arena = append(h.arena, b...)
	v := h.arena[start:len(h.arena):len(h.arena)]
	h.Set(name, unsafe.String(&v[0], len(v)))
}

// valueBufMin is the spare room ValueBuf guarantees: a forwarding value
// of a direct client ("for=[v6];proto=https;host=...") fits, so the
// common case never grows the buffer it returns.
const valueBufMin = 256

// ValueBuf lends the spare capacity of h's storage to build a value in and
// pass to SetBytes (protocol.ValueBuilder), which then stores it in place.
// A caller's own buffer would escape through the protocol.Header
// interface, one allocation per request.
func (h *Header) ValueBuf() []byte {
	if cap(h.arena)-len(h.arena) < valueBufMin {
		// Strings set earlier keep viewing the old array.
		grown := make([]byte, len(h.arena), max(2*cap(h.arena), len(h.arena)+valueBufMin))
		copy(grown, h.arena)
		h.arena = grown
	}
	return h.arena[len(h.arena):len(h.arena)]
}

// Add appends a field.
func (h *Header) Add(name, value string) {
	h.fields = append(h.fields, field{name: name, value: value})
}

// Del removes every field named name.
func (h *Header) Del(name string) {
	for i := range h.fields {
		f := &h.fields[i]
		if !f.deleted && sameName(f.name, name) {
			f.deleted = true
		}
	}
}

// Len returns the number of fields present (deleted ones excluded).
func (h *Header) Len() int {
	n := 0
	for i := range h.fields {
		if !h.fields[i].deleted {
			n++
		}
	}
	return n
}

// Field returns the i-th field line in wire order, counting deleted ones
// too (ok false for those), for 0 <= i < Cap().
func (h *Header) Field(i int) (name, value string, ok bool) {
	f := &h.fields[i]
	return f.name, f.value, !f.deleted
}

// Cap is the number of field slots Field accepts.
func (h *Header) Cap() int { return len(h.fields) }

// AppendTo appends every present field as "name: value\r\n" (RFC 9112 §5),
// in order, and returns the extended buffer.
func (h *Header) AppendTo(dst []byte) []byte {
	for i := range h.fields {
		f := &h.fields[i]
		if f.deleted {
			continue
		}
		dst = append(dst, f.name...)
		dst = append(dst, ": "...)
		dst = append(dst, f.value...)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// view returns a string sharing b's memory, without copying. The engine
// only takes views of buffer regions it does not write to again until
// the request that owns them has ended; a retained view would see later
// bytes, which is why Request and Header document their lifetime.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// sameName compares field names case-insensitively, lengths first: most
// fields differ in length from the name looked for, and EqualFold would
// walk them anyway.
func sameName(a, b string) bool { return len(a) == len(b) && strings.EqualFold(a, b) }
