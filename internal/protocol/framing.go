package protocol

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// FramingLimits bounds what a FramingScanner accepts. A zero field means its
// default; a negative field is an error from NewFramingScanner.
type FramingLimits struct {
	// MaxURIBytes bounds the request-target in bytes. Past it the request is
	// refused with 414 (RFC 9112 §3: "A server that receives a request-target
	// longer than any URI it wishes to parse MUST respond with a 414").
	// Default DefaultMaxURIBytes.
	MaxURIBytes int
	// MaxHeaderBytes bounds the whole request head (leading empty lines,
	// request line, header fields, the final CRLF) and, separately, a chunked
	// body's trailer section. Past it the request is refused with 431
	// (RFC 6585 §5). Default DefaultMaxHeaderBytes. Keep net/http's
	// Server.MaxHeaderBytes at least this large so that the scanner, not
	// net/http, answers first.
	MaxHeaderBytes int
	// MaxChunkExtBytes bounds the chunk extensions of one chunk-size line
	// (RFC 9112 §7.1.1 lets a server limit them). Past it: 400.
	// Default DefaultMaxChunkExtBytes.
	MaxChunkExtBytes int
}

// Defaults for FramingLimits fields left at zero.
const (
	DefaultMaxURIBytes      = 8 << 10
	DefaultMaxHeaderBytes   = 1 << 20
	DefaultMaxChunkExtBytes = 4 << 10
)

// ErrInvalidFramingLimits is returned (wrapped) by NewFramingScanner for a
// negative limit.
var ErrInvalidFramingLimits = errors.New("protocol: invalid framing limits")

// withDefaults validates l and fills zero fields.
func (l FramingLimits) withDefaults() (FramingLimits, error) {
	if l.MaxURIBytes < 0 || l.MaxHeaderBytes < 0 || l.MaxChunkExtBytes < 0 {
		return l, fmt.Errorf("%w: negative value in %+v", ErrInvalidFramingLimits, l)
	}
	if l.MaxURIBytes == 0 {
		l.MaxURIBytes = DefaultMaxURIBytes
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxChunkExtBytes == 0 {
		l.MaxChunkExtBytes = DefaultMaxChunkExtBytes
	}
	return l, nil
}

// Action is what a Verdict tells the caller to do.
type Action uint8

const (
	// Continue: every byte given was consumed and is valid so far.
	Continue Action = iota
	// MessageEnd: a complete message ended at the last consumed byte; Info
	// describes it. Feed again with the rest.
	MessageEnd
	// Reject: the message that started at MessageStart is malformed or
	// ambiguous; answer Verdict.Status and close the connection. Sticky.
	Reject
	// Passthrough: the rest of the stream is not HTTP/1.1 (the h2c
	// preface, or the caller called StartPassthrough); stop checking. Sticky.
	Passthrough
)

// Verdict is the result of Feed. Reason is a short constant text for logs;
// it never contains client bytes.
type Verdict struct {
	Action Action
	Status int // for Reject: 400, 414, 431 or 505
	Reason string
}

// MessageInfo describes the message that just ended (Action MessageEnd).
type MessageInfo struct {
	// Head and Connect report a HEAD or CONNECT request; for a response
	// scanner they echo what ExpectResponseTo was told.
	Head, Connect bool
	// Upgrade: a request carrying Upgrade with "upgrade" in Connection
	// (RFC 9110 §7.8); the bytes after a 101 answer are not HTTP.
	Upgrade bool
	// Close: "close" in Connection (RFC 9112 §9.6).
	Close bool
	// HTTP10: the message's version is HTTP/1.0.
	HTTP10 bool
	// Status is the status code of a response (0 for requests).
	Status int
	// Interim: a 1xx response other than 101; the final response follows.
	Interim bool
}

// FramingScanner follows HTTP/1.1 message framing (RFC 9112 §2–§7) over the
// bytes of one connection direction, fed in arbitrary slices. It does no I/O
// and does not allocate. It is not safe for concurrent use.
//
// A request scanner (NewFramingScanner) enforces the strict rules listed in
// docs and the package tests: it refuses any message whose framing two
// parsers could read differently. A response scanner (NewResponseScanner)
// only follows framing, for a caller that must know where each response ends.
type FramingScanner struct {
	limits   FramingLimits
	response bool

	st     state
	off    int64 // bytes consumed so far
	start  int64 // offset of the current message's first byte
	sticky Verdict

	headBytes int // bytes of the current head (or trailer section)
	uriBytes  int

	// start line
	tok    [8]byte // method or version bytes
	tokLen int
	target targetForm
	status int
	major  byte
	minor  byte
	method methodKind

	// header field being read
	name      [17]byte // lower-cased prefix of the field name
	nameLen   int
	field     fieldKind
	inTrailer bool
	valPhase  uint8
	elem      [8]byte // lower-cased prefix of the current list element
	elemLen   int
	clCur     uint64
	clDigits  int

	// framing facts of the current message
	clSeen        bool
	clVal         uint64
	clValDigits   int
	teSeen        bool
	teCodings     int
	teChunked     bool // chunked was seen
	teLastChunked bool
	connUpgrade   bool
	connClose     bool
	upgradeSeen   bool

	// body
	remain   uint64
	digits   int
	extBytes int

	// response scanner: what the request being answered was
	respHead, respConnect bool

	info MessageInfo
}

// NewFramingScanner returns a request scanner with the given limits (zero
// fields take defaults). It fails only on a negative limit.
func NewFramingScanner(limits FramingLimits) (*FramingScanner, error) {
	l, err := limits.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &FramingScanner{limits: l}
	s.resetMessage()
	return s, nil
}

// NewResponseScanner returns a scanner that follows the framing of
// responses (RFC 9112 §6.3): 1xx, 204, 304 and answers to HEAD have no body;
// a 2xx to CONNECT and 101 end the HTTP stream; without Content-Length or
// chunked the body runs to the end of the connection. It has no size limits.
// Call ExpectResponseTo before each response's head completes.
func NewResponseScanner() *FramingScanner {
	s := &FramingScanner{
		limits:   FramingLimits{MaxURIBytes: math.MaxInt, MaxHeaderBytes: math.MaxInt, MaxChunkExtBytes: math.MaxInt},
		response: true,
	}
	s.resetMessage()
	return s
}

// ExpectResponseTo tells a response scanner what request the next response
// answers, since a HEAD answer has no body and a 2xx to CONNECT starts a
// tunnel (RFC 9112 §6.3 items 1–2). It stays in force until changed.
func (s *FramingScanner) ExpectResponseTo(head, connect bool) {
	s.respHead, s.respConnect = head, connect
}

// Offset is the number of bytes consumed since the scanner was created.
func (s *FramingScanner) Offset() int64 { return s.off }

// MessageStart is the offset of the first byte of the message being read
// (including any empty lines before its start line); after a Reject, the
// first byte of the refused message.
func (s *FramingScanner) MessageStart() int64 { return s.start }

// Info describes the message that ended with the last MessageEnd verdict.
func (s *FramingScanner) Info() MessageInfo { return s.info }

// AtBoundary reports whether the scanner is between messages (nothing of a
// next message has been consumed yet).
func (s *FramingScanner) AtBoundary() bool {
	return s.sticky.Action == Continue && s.st == stStart && s.off == s.start
}

// InBody reports the bytes still expected of a Content-Length body, or
// ok=false when the scanner is not inside one.
func (s *FramingScanner) InBody() (remain uint64, ok bool) {
	if s.st == stBodyCL && s.sticky.Action == Continue {
		return s.remain, true
	}
	return 0, false
}

// SkipBody consumes n bytes of a Content-Length body without seeing them (for
// a sendfile path); n must not exceed InBody's remain. It returns the verdict
// Feed would have returned.
func (s *FramingScanner) SkipBody(n uint64) Verdict {
	if s.st != stBodyCL || n > s.remain {
		return s.reject(400, "skip outside of a Content-Length body")
	}
	s.remain -= n
	s.off += int64(n)
	if s.remain == 0 {
		v := s.endMessage()
		s.start = s.off
		return v
	}
	return Verdict{}
}

// StartPassthrough stops checking: every later Feed consumes all and returns
// Passthrough. Call it when the answer to an Upgrade or CONNECT request
// (MessageInfo) switched the connection to another protocol.
func (s *FramingScanner) StartPassthrough() {
	if s.sticky.Action == Continue {
		s.sticky = Verdict{Action: Passthrough}
	}
}

// Feed consumes bytes from p until p is used up (Continue) or an event occurs:
// MessageEnd after a complete message (p[:n] consumed; feed p[n:] next),
// Reject, or Passthrough (all of p consumed). After Reject every call returns
// the same verdict with n == 0.
func (s *FramingScanner) Feed(p []byte) (n int, v Verdict) {
	switch s.sticky.Action {
	case Reject:
		return 0, s.sticky
	case Passthrough:
		s.off += int64(len(p))
		return len(p), s.sticky
	}
	i := 0
	for i < len(p) {
		var adv int
		adv, v = s.step(p[i:])
		i += adv
		s.off += int64(adv)
		if v.Action != Continue {
			if v.Action == MessageEnd {
				s.start = s.off
			}
			if v.Action == Passthrough {
				s.off += int64(len(p) - i)
				i = len(p)
			}
			return i, v
		}
	}
	return i, Verdict{}
}

// step consumes at least one byte of p (unless it returns an event) and
// returns how many it consumed.
func (s *FramingScanner) step(p []byte) (int, Verdict) {
	switch s.st {
	case stBodyCL:
		n := len(p)
		if uint64(n) >= s.remain {
			n = int(s.remain)
		}
		s.remain -= uint64(n)
		if s.remain == 0 {
			return n, s.endMessage()
		}
		return n, Verdict{}
	case stChunkData:
		n := len(p)
		if uint64(n) >= s.remain {
			n = int(s.remain)
		}
		s.remain -= uint64(n)
		if s.remain == 0 {
			s.st = stChunkDataCR
		}
		return n, Verdict{}
	case stUntilClose:
		return len(p), Verdict{}
	case stFieldValue:
		return s.fieldValue(p)
	case stFieldName:
		// Fast path over the name's token bytes; the byte ending it
		// goes through headByte.
		i := 0
		for i < len(p) && isTchar(p[i]) && s.headBytes < s.limits.MaxHeaderBytes {
			if s.nameLen < len(s.name) {
				s.name[s.nameLen] = lower(p[i])
			}
			s.nameLen++
			s.headBytes++
			i++
		}
		if i > 0 {
			return i, Verdict{}
		}
	}
	if s.st >= stChunkSize {
		return 1, s.chunkByte(p[0])
	}
	return 1, s.headByte(p[0])
}

// reject makes v the sticky verdict.
func (s *FramingScanner) reject(status int, reason string) Verdict {
	s.sticky = Verdict{Action: Reject, Status: status, Reason: reason}
	return s.sticky
}

// endMessage records the message's info and readies the next message.
func (s *FramingScanner) endMessage() Verdict {
	s.info = MessageInfo{
		Head:    s.method == methodHead,
		Connect: s.method == methodConnect,
		Upgrade: s.upgradeSeen && s.connUpgrade,
		Close:   s.connClose,
		HTTP10:  s.major == '1' && s.minor == '0',
		Status:  s.status,
		Interim: s.response && s.status >= 100 && s.status < 200 && s.status != 101,
	}
	if s.response {
		s.info.Head, s.info.Connect = s.respHead, s.respConnect
	}
	s.resetMessage()
	return Verdict{Action: MessageEnd}
}

// resetMessage clears the per-message state.
func (s *FramingScanner) resetMessage() {
	s.st = stStart
	s.headBytes, s.uriBytes = 0, 0
	s.tokLen, s.target, s.status, s.major, s.minor, s.method = 0, 0, 0, 0, 0, methodOther
	s.inTrailer, s.nameLen, s.field = false, 0, fieldOther
	s.clSeen, s.clVal, s.clValDigits = false, 0, 0
	s.teSeen, s.teCodings, s.teChunked, s.teLastChunked = false, 0, false, false
	s.connUpgrade, s.connClose, s.upgradeSeen = false, false, false
	s.remain, s.digits, s.extBytes = 0, 0, 0
}

// HeadComplete reports whether the current (or refused) message's head was
// read to its end, i.e. a server may already be handling it.
func (s *FramingScanner) HeadComplete() bool {
	return s.st >= stBodyCL || s.inTrailer
}

// RefusalResponse is the whole HTTP/1.1 response for a request the framing
// rules refuse (a Verdict's Status: 400, 414, 431, 505), byte for byte, so
// the guard in front of net/http and the own engine answer a malformed
// request identically: a short plain body, "Connection: close" (the
// connection's framing can no longer be trusted, RFC 9112 §11.2), no client
// byte and no Go error text.
func RefusalResponse(status int) string {
	reason := refusalReason(status)
	text := strconv.Itoa(status) + " " + reason + "\n"
	return "HTTP/1.1 " + strconv.Itoa(status) + " " + reason +
		"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(text)) + "\r\n\r\n" + text
}

func refusalReason(status int) string {
	switch status {
	case 414:
		return "URI Too Long"
	case 431:
		return "Request Header Fields Too Large"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Bad Request"
}
