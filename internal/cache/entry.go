package cache

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"time"
)

// Entry is one stored response. It is immutable once in a Store (a 304
// merge builds a new Entry), so a request may serve it without a lock;
// only the Store's list links change, under the Store's lock.
type Entry struct {
	// Key is the primary key (host, path, query); Variant the secondary
	// key (method, scheme, configured headers and cookies, body hash).
	Key, Variant string
	Status       int
	// Header is the stored response header (clipped slices: appending to
	// a value never writes into the Entry).
	Header http.Header
	// Body is the stored body, nil when it is in a file of the disk store.
	Body []byte
	// ReqTime and RespTime are request_time and response_time of RFC 9111
	// §4.2.3: when the exchange that produced the entry started and when
	// its head arrived.
	ReqTime, RespTime time.Time

	cc       Directives
	vary     []string // canonical request field names from Vary
	varyVals []string // the request's values of vary at store time
	tags     []string
	etag     string
	lastMod  time.Time
	// lifetime is the freshness lifetime (§4.2.1) and initialAge the
	// corrected_initial_age (§4.2.3), both fixed when stored.
	lifetime, initialAge time.Duration
	size                 int64
	// disk, when set, holds the body in a file (the disk store); only the
	// head counts against the memory bound.
	disk *diskObject

	prev, next *Entry
	seg        uint8 // segment of the store: segNone, segProbation, segProtected
}

// Age is the entry's current_age at now (RFC 9111 §4.2.3).
func (e *Entry) Age(now time.Time) time.Duration {
	resident := now.Sub(e.RespTime)
	if resident < 0 {
		resident = 0
	}
	return e.initialAge + resident
}

// Lifetime is the entry's freshness lifetime (RFC 9111 §4.2.1).
func (e *Entry) Lifetime() time.Duration { return e.lifetime }

// entryOverhead approximates the bytes an Entry costs beyond its header
// and body (struct, map buckets, list links), so that many tiny entries
// still count against the bound.
const entryOverhead = 512

// diskObjectOverhead approximates a diskObject's memory beyond its path.
const diskObjectOverhead = 96

// OnDisk reports whether the body is in a file of the disk store.
func (e *Entry) OnDisk() bool { return e.disk != nil }

// BodySize is the stored body's length in bytes, in memory or on disk.
func (e *Entry) BodySize() int64 {
	if e.disk != nil {
		return e.disk.size
	}
	return int64(len(e.Body))
}

// body returns a reader over the stored body and a function that releases
// it. For a body on disk it opens the file; errObjectGone means the file
// was evicted or purged after the lookup (the entry is as good as missing).
func (e *Entry) body() (io.ReadSeeker, func(), error) {
	if e.disk == nil {
		return bytes.NewReader(e.Body), func() {}, nil
	}
	f, err := e.disk.open()
	if err != nil {
		return nil, nil, err
	}
	return f, func() { _ = f.Close() }, nil
}

func (e *Entry) computeSize() {
	n := int64(entryOverhead + len(e.Key) + len(e.Variant) + len(e.Body))
	if e.disk != nil {
		n += int64(len(e.disk.path)) + diskObjectOverhead
	}
	for k, vs := range e.Header {
		n += int64(len(k)) + 32
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	for _, v := range e.varyVals {
		n += int64(len(v)) + 16
	}
	for _, t := range e.tags {
		n += int64(len(t)) + 48 // plus its slot in the tag index
	}
	e.size = n
}

// varyValue is the request's value of a Vary field, normalised (values of
// several lines joined, whitespace around commas dropped) so that
// semantically equal requests match (RFC 9111 §4.1).
func varyValue(h http.Header, name string) string {
	vs := h.Values(name)
	switch len(vs) {
	case 0:
		return ""
	case 1:
		if !strings.Contains(vs[0], ", ") {
			return vs[0]
		}
	}
	var b strings.Builder
	for i, v := range vs {
		for j, p := range strings.Split(v, ",") {
			if i+j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimOWS(p))
		}
	}
	return b.String()
}

// matches says whether the entry may answer a request with the secondary
// key variant and header h (RFC 9111 §4.1: every field the Vary names must
// match).
func (e *Entry) matches(variant string, h http.Header) bool {
	if e.Variant != variant {
		return false
	}
	for i, name := range e.vary {
		if varyValue(h, name) != e.varyVals[i] {
			return false
		}
	}
	return true
}
