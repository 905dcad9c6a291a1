package engine

import (
	"bytes"
	"net/netip"
	"strings"
	"unsafe"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// Request is one HTTP/1.x request read by the Server. It is a view over the
// connection's pooled head buffer: its strings (Method, Target, Path,
// RawQuery, Host, Header values) are valid only until the handler returns
// (or, for Dispatch, until the request is handed off or served). Copy what
// must outlive that. The Server reuses the Request for the connection's
// next request. A Request is used by one goroutine at a time.
type Request struct {
	// Method is the request method, case-sensitive (RFC 9110 §9.1).
	Method string
	// Target is the request-target as received (RFC 9112 §3.2).
	Target string
	// Path is the path of an origin-form target, in its escaped (wire)
	// form; Dispatch may replace it (e.g. with protocol.CleanPath or a
	// rewrite), and the native proxy sends this value upstream.
	Path string
	// RawQuery is the query without '?', as received; ForceQuery is set
	// when the target ended in a bare '?'.
	RawQuery   string
	ForceQuery bool
	// Host is the Host field's value ("" when absent, which only an
	// HTTP/1.0 request may do).
	Host string
	// ProtoMinor is the minor version: 0 for HTTP/1.0, 1 or more for 1.1.
	ProtoMinor int
	// Header holds the header fields in wire order.
	Header Header
	// ContentLength is the declared body length; -1 for a chunked body,
	// 0 for none.
	ContentLength int64
	// Peer is the TCP peer (invalid for a unix socket).
	Peer netip.AddrPort
	// Scheme is "http" unless the Server says otherwise (Config.Scheme).
	Scheme string
	// ID is the request ID for logs, the upstream request and error
	// bodies; set by Dispatch ("" disables it).
	ID string
	// Info, when Dispatch sets it, is filled by the native proxy
	// (Upstream, Target, UpstreamStart, FirstByte, Err). May be nil.
	Info *observe.RequestInfo

	form       targetForm
	chunked    bool
	closeConn  bool // "close" in Connection, or HTTP/1.0 (see wantsClose)
	keepAlive  bool // "keep-alive" in Connection
	upgrade    bool // Upgrade with the "upgrade" connection option
	expect100  bool
	badExpect  bool // an Expect other than 100-continue: 417
	hostFields int

	c *conn // nil when parsed outside a connection (tests)

	// info and idBuf are storage the runtime borrows (InfoSlot,
	// GenerateID), so serving a request allocates nothing for them.
	info  observe.RequestInfo
	idBuf [protocol.RequestIDLen]byte
}

// InfoSlot returns zeroed storage for the request's observe.RequestInfo,
// owned by the request: valid until the handler returns. Dispatch points
// Info at it.
func (r *Request) InfoSlot() *observe.RequestInfo {
	r.info = observe.RequestInfo{}
	return &r.info
}

// GenerateID makes a new request ID (protocol.AppendRequestID) in storage
// owned by the request. The string aliases that storage: it is valid
// until the handler returns, and must be copied to outlive it.
func (r *Request) GenerateID() string {
	b := protocol.AppendRequestID(r.idBuf[:0])
	return unsafe.String(&b[0], len(b))
}

// targetForm is the request-target form (RFC 9112 §3.2).
type targetForm uint8

const (
	formOrigin targetForm = iota
	formAbsolute
	formAuthority
	formAsterisk
)

// Chunked reports whether the body uses the chunked transfer coding.
func (r *Request) Chunked() bool { return r.chunked }

// HasBody reports whether a body follows the head.
func (r *Request) HasBody() bool { return r.chunked || r.ContentLength > 0 }

// Upgrade reports an Upgrade request (RFC 9110 §7.8).
func (r *Request) Upgrade() bool { return r.upgrade }

// OriginForm reports whether the target is a path (and optional query),
// the only form the native path serves; the others are handed off.
func (r *Request) OriginForm() bool { return r.form == formOrigin }

// WantsClose reports whether the connection ends after this exchange
// because of the request: "Connection: close" (RFC 9112 §9.6) or HTTP/1.0,
// whose persistence the engine does not negotiate (§9.3).
func (r *Request) WantsClose() bool { return r.closeConn || r.ProtoMinor == 0 }

// reset clears r for the next message, keeping its header storage.
func (r *Request) reset() {
	h, c := r.Header, r.c
	h.reset()
	// Zeroed in place, then the kept parts put back: a composite
	// literal with them would be built in a ~600-byte stack temporary
	// and copied, on every request.
	*r = Request{}
	r.Header, r.c = h, c
}

var crlfcrlf = []byte("\r\n\r\n")

// headVerdict is what scanHead found.
type headVerdict uint8

const (
	headMore      headVerdict = iota // feed more bytes
	headDone                         // a complete head (a body may follow)
	headReject                       // refuse with the verdict's status
	headH2Preface                    // the h2c preface: not HTTP/1.1
)

// scanHead feeds b[fed:] (b starts at the first byte of the message) to
// the request scanner, never past the end of the head, so that the body
// that may follow stays unfed. The head always ends in CRLF CRLF: the
// scanner refuses bare LF line endings (RFC 9112 §2.2) and a field value
// cannot hold CR or LF, so each CRLFCRLF is a point where the head may
// end; the scanner decides. It returns the new fed count, the head length
// (for headDone) and the verdict (for headReject).
func scanHead(sc *protocol.FramingScanner, b []byte, fed int) (int, int, headVerdict, protocol.Verdict) {
	for fed < len(b) {
		from := max(fed-3, 0)
		i := bytes.Index(b[from:], crlfcrlf)
		stop := len(b)
		if i >= 0 {
			stop = from + i + 4
		}
		n, v := sc.Feed(b[fed:stop])
		fed += n
		switch v.Action {
		case protocol.Reject:
			return fed, 0, headReject, v
		case protocol.Passthrough:
			return fed, 0, headH2Preface, v
		case protocol.MessageEnd:
			return fed, fed, headDone, v
		}
		if sc.HeadComplete() {
			return fed, fed, headDone, v
		}
		if i < 0 {
			break
		}
	}
	return fed, 0, headMore, protocol.Verdict{}
}

// parseHead fills r from head, a complete request head that a request
// FramingScanner accepted (so every line ends in CRLF, the start line has
// exactly three parts and every field line has a colon). It applies the
// checks net/http's server adds after parsing, with its statuses, and
// returns 0 or the status to refuse with: 400 for a missing or repeated
// Host in HTTP/1.1, an invalid Host, an invalid percent-escape in the
// path (url.ParseRequestURI's rule); 417 is signalled by badExpect.
func parseHead(head []byte, r *Request) int {
	i := 0
	for head[i] == '\r' { // empty lines before the request-line (RFC 9112 §2.2)
		i += 2
	}
	e := bytes.Index(head[i:], crlf) + i
	line := head[i:e]
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.IndexByte(line[sp1+1:], ' ') + sp1 + 1
	r.Method = view(line[:sp1])
	target := line[sp1+1 : sp2]
	r.Target = view(target)
	r.ProtoMinor = int(line[len(line)-1] - '0')
	switch {
	case target[0] == '/':
		r.form = formOrigin
	case target[0] == '*' && len(target) == 1:
		r.form = formAsterisk
	case r.Method == "CONNECT":
		r.form = formAuthority
	default:
		r.form = formAbsolute
	}
	status := 0
	if r.form == formOrigin {
		path := target
		if q := bytes.IndexByte(target, '?'); q >= 0 {
			path = target[:q]
			r.RawQuery = view(target[q+1:])
			r.ForceQuery = q == len(target)-1
		}
		r.Path = view(path)
		if !validEscapes(path) {
			status = 400
		}
	}
	i = e + 2
	for head[i] != '\r' {
		e = bytes.Index(head[i:], crlf) + i
		line = head[i:e]
		c := bytes.IndexByte(line, ':')
		name, value := line[:c], trimOWS(line[c+1:])
		r.Header.addView(name, value)
		if s := r.noteField(name, value); s != 0 && status == 0 {
			status = s
		}
		i = e + 2
	}
	if r.ProtoMinor >= 1 && r.hostFields == 0 && r.Method != "CONNECT" {
		status = 400 // net/http: "missing required Host header"
	}
	if r.hostFields > 1 {
		status = 400 // net/http: "too many Host headers"
	}
	return status
}

var crlf = []byte("\r\n")

// noteField records what the server must know about one field. The
// scanner has already checked the framing fields' syntax and consistency.
func (r *Request) noteField(name, value []byte) int {
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			r.hostFields++
			r.Host = view(value)
			if !validHost(value) {
				return 400 // net/http: "malformed Host header"
			}
		}
	case 6:
		if equalFold(name, "expect") {
			// RFC 9110 §10.1.1: 100-continue is the only expectation;
			// net/http answers others with 417.
			if equalFold(value, "100-continue") {
				r.expect100 = true
			} else if len(value) > 0 {
				r.badExpect = true
			}
		}
	case 10:
		if equalFold(name, "connection") {
			forEachToken(value, r)
		}
	case 14:
		if equalFold(name, "content-length") && r.ContentLength == 0 {
			var n int64
			for _, c := range value {
				if c >= '0' && c <= '9' {
					n = n*10 + int64(c-'0')
				}
			}
			r.ContentLength = n
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			// The scanner refuses any Transfer-Encoding whose final
			// coding is not chunked (RFC 9112 §6.3 item 4), and with
			// Content-Length (item 3), so this means chunked.
			r.chunked = true
		}
	}
	return 0
}

// forEachToken reads a Connection value's options (RFC 9110 §7.6.1).
func forEachToken(v []byte, r *Request) {
	for len(v) > 0 {
		var el []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			el, v = trimOWS(v[:i]), v[i+1:]
		} else {
			el, v = trimOWS(v), nil
		}
		switch {
		case equalFold(el, "close"):
			r.closeConn = true
		case equalFold(el, "keep-alive"):
			r.keepAlive = true
		case equalFold(el, "upgrade"):
			r.connUpgradeSeen()
		}
	}
}

// connUpgradeSeen notes the "upgrade" option; whether an Upgrade field is
// present is decided once the whole head is read.
func (r *Request) connUpgradeSeen() { r.upgrade = true }

// finishHead settles facts that depend on several fields.
func (r *Request) finishHead() {
	if r.chunked {
		r.ContentLength = -1
	}
	// RFC 9110 §7.8: an upgrade needs both the option and the field.
	r.upgrade = r.upgrade && r.Header.Has("Upgrade")
}

// trimOWS trims optional whitespace (SP, HTAB; RFC 9110 §5.6.3).
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func equalFold(b []byte, s string) bool { return strings.EqualFold(view(b), s) }

// validEscapes reports whether every '%' starts a %XX escape, the rule
// url.ParseRequestURI applies to the path (RFC 3986 §2.1).
func validEscapes(p []byte) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return false
		}
		i += 2
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// validHost is httpguts.ValidHostHeader's byte rule, so a Host net/http
// would refuse is refused here too.
func validHost(b []byte) bool {
	for _, c := range b {
		if !hostByte[c] {
			return false
		}
	}
	return true
}

// hostByte marks the bytes httpguts accepts in Host: unreserved,
// sub-delims, ':', '[', ']', '%'. A constant table, never written.
var hostByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!$%&'()*+,-.:;=[]_~" {
		t[c] = true
	}
	return t
}()
