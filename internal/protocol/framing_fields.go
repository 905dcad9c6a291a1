package protocol

// This file reads the header fields that decide framing (Content-Length,
// Transfer-Encoding, Connection, Upgrade) in place, without allocating, and
// picks the message body length (RFC 9112 §6.3).

type fieldKind uint8

const (
	fieldOther fieldKind = iota
	fieldContentLength
	fieldTransferEncoding
	fieldConnection
	fieldUpgrade
)

const (
	reasonCLInvalid    = "invalid Content-Length"
	reasonCLConflict   = "conflicting Content-Length fields"
	reasonTECL         = "both Transfer-Encoding and Content-Length"
	reasonTENotChunked = "final transfer coding is not chunked"
	reasonTETwice      = "chunked applied more than once"
	reasonTEInvalid    = "invalid Transfer-Encoding"
	reasonTEHTTP10     = "Transfer-Encoding in an HTTP/1.0 request"
)

// beginValue classifies the field whose name was just read. Trailer fields
// never decide framing (RFC 9110 §6.5.1).
func (s *FramingScanner) beginValue() {
	s.st = stFieldValue
	s.field = fieldOther
	s.valPhase, s.elemLen, s.clCur, s.clDigits = 0, 0, 0, 0
	if s.inTrailer || s.nameLen > len(s.name) {
		return
	}
	switch string(s.name[:s.nameLen]) {
	case "content-length":
		s.field = fieldContentLength
	case "transfer-encoding":
		s.field = fieldTransferEncoding
		s.teSeen = true
	case "connection":
		s.field = fieldConnection
	case "upgrade":
		s.field = fieldUpgrade
	}
}

// List element phases (RFC 9110 §5.6.1: #element with OWS around commas).
const (
	phaseBefore uint8 = iota // OWS before an element (or the value)
	phaseIn                  // inside an element
	phaseAfter               // OWS after an element
)

// valueByte feeds one byte of a framing field's value to its parser.
func (s *FramingScanner) valueByte(c byte) Verdict {
	ows := c == ' ' || c == '\t'
	switch s.field {
	case fieldContentLength:
		// RFC 9110 §8.6: Content-Length = 1*DIGIT. A list ("5, 5") is
		// refused as net/http does; so is anything after the digits.
		switch {
		case ows && s.valPhase != phaseIn:
		case ows:
			s.valPhase = phaseAfter
		case isDigit(c) && s.valPhase != phaseAfter:
			s.valPhase = phaseIn
			d := uint64(c - '0')
			// net/http parses into 63 bits; so must we, to agree.
			if s.clCur > (1<<63-1-d)/10 {
				return s.reject(400, reasonCLInvalid)
			}
			s.clCur = s.clCur*10 + d
			s.clDigits++
		default:
			return s.reject(400, reasonCLInvalid)
		}
	case fieldTransferEncoding:
		// RFC 9112 §6.1: Transfer-Encoding = #transfer-coding. We accept
		// bare codings only: a parameter on "chunked" is undefined.
		switch {
		case ows || c == ',':
			if s.valPhase == phaseIn {
				if v := s.endCoding(); v.Action != Continue {
					return v
				}
				s.valPhase = phaseAfter
			}
			if c == ',' {
				s.valPhase = phaseBefore
			}
		case isTchar(c) && s.valPhase != phaseAfter:
			if s.valPhase != phaseIn {
				s.valPhase, s.elemLen = phaseIn, 0
			}
			s.elemByte(c)
		default:
			return s.reject(400, reasonTEInvalid)
		}
	case fieldConnection:
		// RFC 9110 §7.6.1: Connection = #connection-option. Lenient:
		// only the "upgrade" and "close" options matter here.
		switch {
		case ows || c == ',':
			if s.valPhase == phaseIn {
				s.endConnOption()
			}
			s.valPhase = phaseBefore
		default:
			if s.valPhase != phaseIn {
				s.valPhase, s.elemLen = phaseIn, 0
			}
			s.elemByte(c)
		}
	case fieldUpgrade:
		if !ows && c != ',' {
			s.upgradeSeen = true
		}
	}
	return Verdict{}
}

// elemByte stores a lower-cased list element prefix.
func (s *FramingScanner) elemByte(c byte) {
	if s.elemLen < len(s.elem) {
		s.elem[s.elemLen] = lower(c)
	}
	s.elemLen++
}

func (s *FramingScanner) elemIs(name string) bool {
	return s.elemLen == len(name) && string(s.elem[:s.elemLen]) == name
}

// endCoding records one transfer coding of the list.
func (s *FramingScanner) endCoding() Verdict {
	s.teCodings++
	chunked := s.elemIs("chunked")
	if chunked {
		if s.teChunked {
			// RFC 9112 §6.1: a sender MUST NOT apply chunked more
			// than once.
			return s.reject(400, reasonTETwice)
		}
		s.teChunked = true
	}
	s.teLastChunked = chunked
	return Verdict{}
}

func (s *FramingScanner) endConnOption() {
	switch {
	case s.elemIs("upgrade"):
		s.connUpgrade = true
	case s.elemIs("close"):
		s.connClose = true
	}
}

// endValue finishes a field value at its CR.
func (s *FramingScanner) endValue() Verdict {
	switch s.field {
	case fieldContentLength:
		if s.clDigits == 0 {
			return s.reject(400, reasonCLInvalid)
		}
		// RFC 9112 §6.3 item 5: differing Content-Length values are an
		// unrecoverable error. Equal values are accepted, as net/http
		// does (it compares the trimmed strings: same value, same
		// number of digits).
		if s.clSeen && (s.clCur != s.clVal || s.clDigits != s.clValDigits) {
			return s.reject(400, reasonCLConflict)
		}
		s.clSeen, s.clVal, s.clValDigits = true, s.clCur, s.clDigits
	case fieldTransferEncoding:
		if s.valPhase == phaseIn {
			return s.endCoding()
		}
	case fieldConnection:
		if s.valPhase == phaseIn {
			s.endConnOption()
		}
	}
	return Verdict{}
}

// requestBody decides a request's body length at the end of its head
// (RFC 9112 §6.3).
func (s *FramingScanner) requestBody() Verdict {
	if s.teSeen {
		switch {
		case s.major == '1' && s.minor == '0':
			// RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding
			// MUST be treated as having faulty framing. (net/http
			// ignores the field and would use Content-Length.)
			return s.reject(400, reasonTEHTTP10)
		case s.clSeen:
			// RFC 9112 §6.1 / §11.2: both fields is the classic request
			// smuggling shape; a server MAY reject it. net/http drops
			// Content-Length and keeps going; we refuse.
			return s.reject(400, reasonTECL)
		case !s.teLastChunked:
			// RFC 9112 §6.3 item 4: chunked not final in a request →
			// 400 and close.
			return s.reject(400, reasonTENotChunked)
		}
		s.st = stChunkSize
		return Verdict{}
	}
	if s.clSeen && s.clVal > 0 {
		s.remain = s.clVal
		s.st = stBodyCL
		return Verdict{}
	}
	// RFC 9112 §6.3 item 6: neither field → no body.
	return s.endMessage()
}

// responseBody decides a response's body length (RFC 9112 §6.3 items 1–8).
func (s *FramingScanner) responseBody() Verdict {
	switch {
	case s.status >= 100 && s.status < 200, s.status == 204, s.status == 304, s.respHead:
		return s.endMessage()
	case s.respConnect && s.status >= 200 && s.status < 300:
		return s.endMessage()
	case s.teSeen && s.teLastChunked:
		s.st = stChunkSize
		return Verdict{}
	case s.teSeen:
		s.st = stUntilClose
		return Verdict{}
	case s.clSeen && s.clVal > 0:
		s.remain = s.clVal
		s.st = stBodyCL
		return Verdict{}
	case s.clSeen:
		return s.endMessage()
	}
	s.st = stUntilClose
	return Verdict{}
}

// Character classes.

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// isTchar: tchar of RFC 9110 §5.6.2.
func isTchar(c byte) bool { return tcharTable[c] }

// isValueByte: field-vchar / SP / HTAB of RFC 9110 §5.5 (obs-text allowed).
func isValueByte(c byte) bool { return c == '\t' || (c >= ' ' && c != 0x7f) }

func isHex(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

// tcharTable is a constant lookup table (never written after init).
var tcharTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
