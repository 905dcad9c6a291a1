package protocol

// This file holds the states of a message head: the start line (RFC 9112 §3,
// §4) and the field lines (RFC 9112 §5), shared by the header and the trailer
// section of a chunked body (RFC 9112 §7.1.2).

type state uint8

const (
	stStart state = iota
	stStartLF
	stMethod
	stTarget
	stVersion
	stReqLineLF
	stRespVersion
	stRespStatus
	stRespReason
	stStatusLF
	stFieldStart
	stFieldName
	stFieldValue
	stFieldValueLF
	stHeadEndLF
	stBodyCL
	stUntilClose
	// Every state from here on is part of a chunked body (framing_chunked.go).
	stChunkSize
	stChunkSizeBWS
	stExtPreName
	stExtName
	stExtPostName
	stExtPreVal
	stExtValTok
	stExtQuoted
	stExtQuotedEsc
	stExtAfterQuote
	stExtPostVal
	stChunkSizeLF
	stChunkData
	stChunkDataCR
	stChunkDataLF
)

type methodKind uint8

const (
	methodOther methodKind = iota
	methodHead
	methodConnect
	methodOptions
	methodPRI
)

type targetForm uint8

const (
	targetNone      targetForm = iota
	targetOrigin               // "/path?query" (RFC 9112 §3.2.1)
	targetScheme               // absolute-form, still reading the scheme
	targetAbsolute             // absolute-form past "scheme:" (§3.2.2)
	targetAuthority            // CONNECT host:port (§3.2.3)
	targetAsterisk             // "*" (§3.2.4)
)

// Reasons for Reject; constant so a verdict never allocates.
const (
	reasonRequestLine     = "malformed request line"
	reasonMethod          = "invalid method"
	reasonTarget          = "invalid request-target"
	reasonVersion         = "malformed HTTP version"
	reasonVersionUnsup    = "unsupported HTTP version"
	reasonURITooLong      = "request-target too long"
	reasonHeadTooLarge    = "request head too large"
	reasonTrailerTooLarge = "trailer section too large"
	reasonBareLF          = "bare LF line ending"
	reasonBareCR          = "bare CR"
	reasonObsFold         = "obsolete line folding"
	reasonLeadingWS       = "whitespace before first header field"
	reasonFieldName       = "invalid header field name"
	reasonNameWS          = "whitespace between header field name and colon"
	reasonNoColon         = "header field line without colon"
	reasonFieldValue      = "invalid byte in header field value"
	reasonStatusLine      = "malformed status line"
)

// headByte advances the start-line and field-line states by one byte.
func (s *FramingScanner) headByte(c byte) Verdict {
	s.headBytes++
	if s.headBytes > s.limits.MaxHeaderBytes && s.st != stTarget {
		if s.inTrailer {
			return s.reject(431, reasonTrailerTooLarge)
		}
		return s.reject(431, reasonHeadTooLarge)
	}
	switch s.st {
	case stStart:
		if s.response {
			s.st = stRespVersion
			return s.tokByte(c)
		}
		switch {
		case c == '\r':
			// RFC 9112 §2.2: a server SHOULD ignore at least one empty
			// line (CRLF) received prior to the request-line.
			s.st = stStartLF
		case isTchar(c):
			s.st = stMethod
			return s.tokByte(c)
		case c == '\n':
			return s.reject(400, reasonBareLF)
		default:
			return s.reject(400, reasonRequestLine)
		}
	case stStartLF:
		if c != '\n' {
			return s.reject(400, reasonBareCR)
		}
		s.st = stStart
	case stMethod:
		switch {
		case isTchar(c):
			// RFC 9110 §9.1: method = token.
			return s.tokByte(c)
		case c == ' ':
			s.method = s.classifyMethod()
			s.tokLen = 0
			s.st = stTarget
		default:
			// RFC 9112 §3: exactly one SP between the parts; anything
			// else (HTAB, several SP, CTL) is an invalid request-line.
			return s.reject(400, reasonMethod)
		}
	case stTarget:
		return s.targetByte(c)
	case stVersion:
		if c == '\r' {
			if !s.versionOK() {
				return s.reject(400, reasonVersion)
			}
			s.st = stReqLineLF
			return Verdict{}
		}
		if c == '\n' {
			return s.reject(400, reasonBareLF)
		}
		return s.tokByte(c)
	case stReqLineLF:
		if c != '\n' {
			return s.reject(400, reasonBareCR)
		}
		switch {
		case s.major == '1':
		case s.major == '2' && s.minor == '0' && s.method == methodPRI && s.target == targetAsterisk:
			// The HTTP/2 connection preface (RFC 9113 §3.4) in cleartext:
			// the rest of the connection is HTTP/2 frames.
			s.sticky = Verdict{Action: Passthrough}
			return s.sticky
		default:
			// RFC 9110 §15.6.6 505; net/http answers the same.
			return s.reject(505, reasonVersionUnsup)
		}
		s.st = stFieldStart
	case stRespVersion:
		if c == ' ' {
			if !s.versionOK() {
				return s.reject(400, reasonStatusLine)
			}
			s.st = stRespStatus
			return Verdict{}
		}
		return s.tokByte(c)
	case stRespStatus:
		switch {
		case c >= '0' && c <= '9' && s.status < 100:
			s.status = s.status*10 + int(c-'0')
		case s.status >= 100 && c == ' ':
			s.st = stRespReason
		case s.status >= 100 && c == '\r':
			s.st = stStatusLF
		default:
			return s.reject(400, reasonStatusLine)
		}
	case stRespReason:
		if c == '\r' {
			s.st = stStatusLF
		} else if !isValueByte(c) {
			return s.reject(400, reasonStatusLine)
		}
	case stStatusLF:
		if c != '\n' {
			return s.reject(400, reasonBareCR)
		}
		s.st = stFieldStart
	case stFieldStart:
		return s.fieldStart(c)
	case stFieldName:
		return s.fieldNameByte(c)
	case stFieldValueLF:
		if c != '\n' {
			return s.reject(400, reasonBareCR)
		}
		s.st = stFieldStart
	case stHeadEndLF:
		if c != '\n' {
			return s.reject(400, reasonBareCR)
		}
		if s.inTrailer {
			return s.endMessage()
		}
		if s.response {
			return s.responseBody()
		}
		return s.requestBody()
	}
	return Verdict{}
}

// tokByte stores a start-line token byte (method or version).
func (s *FramingScanner) tokByte(c byte) Verdict {
	if s.tokLen < len(s.tok) {
		s.tok[s.tokLen] = c
	}
	s.tokLen++
	if (s.st == stVersion || s.st == stRespVersion) && s.tokLen > len("HTTP/1.1") {
		if s.response {
			return s.reject(400, reasonStatusLine)
		}
		return s.reject(400, reasonVersion)
	}
	return Verdict{}
}

// classifyMethod names the methods framing depends on. Methods are
// case-sensitive (RFC 9110 §9.1).
func (s *FramingScanner) classifyMethod() methodKind {
	if s.tokLen > len(s.tok) {
		return methodOther
	}
	switch string(s.tok[:s.tokLen]) {
	case "HEAD":
		return methodHead
	case "CONNECT":
		return methodConnect
	case "OPTIONS":
		return methodOptions
	case "PRI":
		return methodPRI
	}
	return methodOther
}

// versionOK checks HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3)
// and records it.
func (s *FramingScanner) versionOK() bool {
	t := s.tok[:]
	if s.tokLen != 8 || string(t[:5]) != "HTTP/" || t[6] != '.' ||
		!isDigit(t[5]) || !isDigit(t[7]) {
		return false
	}
	s.major, s.minor = t[5], t[7]
	return true
}

// targetByte reads the request-target (RFC 9112 §3.2).
func (s *FramingScanner) targetByte(c byte) Verdict {
	if c == ' ' {
		switch {
		case s.target == targetNone,
			s.target == targetScheme,
			s.target == targetAsterisk && s.method != methodOptions && s.method != methodPRI:
			// §3.2.4: asterisk-form only for OPTIONS (and the h2 preface).
			return s.reject(400, reasonTarget)
		}
		s.st = stVersion
		return Verdict{}
	}
	s.uriBytes++
	if s.uriBytes > s.limits.MaxURIBytes {
		return s.reject(414, reasonURITooLong)
	}
	if s.headBytes > s.limits.MaxHeaderBytes {
		return s.reject(431, reasonHeadTooLarge)
	}
	// Only visible ASCII: no CTL, no obs-text, and no fragment ("#"),
	// which RFC 9112 §3.2 does not allow in a request-target.
	if c <= ' ' || c >= 0x7f || c == '#' {
		if c == '\r' || c == '\n' {
			return s.reject(400, reasonRequestLine)
		}
		return s.reject(400, reasonTarget)
	}
	switch s.target {
	case targetNone:
		switch {
		case s.method == methodConnect:
			s.target = targetAuthority
		case c == '/':
			s.target = targetOrigin
		case c == '*':
			s.target = targetAsterisk
		case isAlpha(c):
			s.target = targetScheme
		default:
			return s.reject(400, reasonTarget)
		}
	case targetScheme:
		// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
		switch {
		case c == ':':
			s.target = targetAbsolute
		case isAlpha(c) || isDigit(c) || c == '+' || c == '-' || c == '.':
		default:
			return s.reject(400, reasonTarget)
		}
	case targetAsterisk:
		return s.reject(400, reasonTarget)
	}
	return Verdict{}
}

// fieldStart reads the first byte of a field line or the CRLF ending the
// section.
func (s *FramingScanner) fieldStart(c byte) Verdict {
	switch {
	case c == '\r':
		s.st = stHeadEndLF
	case isTchar(c):
		s.nameLen = 0
		s.st = stFieldName
		return s.fieldNameByte(c)
	case c == ' ' || c == '\t':
		if s.headBytesBeforeFields() {
			// RFC 9112 §2.2: whitespace between the start-line and the
			// first field MUST be rejected or the line ignored.
			return s.reject(400, reasonLeadingWS)
		}
		// RFC 9112 §5.2: obs-fold; a server MUST reject it (400) or
		// replace it with SP. Rejecting is the only choice that cannot
		// disagree with another parser.
		return s.reject(400, reasonObsFold)
	case c == '\n':
		return s.reject(400, reasonBareLF)
	default:
		return s.reject(400, reasonFieldName)
	}
	return Verdict{}
}

// headBytesBeforeFields reports whether no field line has been read yet.
func (s *FramingScanner) headBytesBeforeFields() bool { return s.nameLen == 0 }

// fieldNameByte reads a field name: field-name = token (RFC 9110 §5.1),
// followed directly by ":" (RFC 9112 §5.1).
func (s *FramingScanner) fieldNameByte(c byte) Verdict {
	switch {
	case isTchar(c):
		if s.nameLen < len(s.name) {
			s.name[s.nameLen] = lower(c)
		}
		s.nameLen++
	case c == ':':
		s.beginValue()
	case c == ' ' || c == '\t':
		// RFC 9112 §5.1: "A server MUST reject, with a response status
		// code of 400, any received request message that contains
		// whitespace between a header field name and colon."
		return s.reject(400, reasonNameWS)
	case c == '\r' || c == '\n':
		return s.reject(400, reasonNoColon)
	default:
		return s.reject(400, reasonFieldName)
	}
	return Verdict{}
}

// fieldValue reads field-value bytes until CR (RFC 9110 §5.5): HTAB, SP,
// VCHAR and obs-text; any other CTL, bare CR or LF is refused.
func (s *FramingScanner) fieldValue(p []byte) (int, Verdict) {
	for i, c := range p {
		s.headBytes++
		if s.headBytes > s.limits.MaxHeaderBytes {
			if s.inTrailer {
				return i + 1, s.reject(431, reasonTrailerTooLarge)
			}
			return i + 1, s.reject(431, reasonHeadTooLarge)
		}
		if c == '\r' {
			s.st = stFieldValueLF
			return i + 1, s.endValue()
		}
		if !isValueByte(c) {
			if c == '\n' {
				return i + 1, s.reject(400, reasonBareLF)
			}
			return i + 1, s.reject(400, reasonFieldValue)
		}
		if s.field != fieldOther {
			if v := s.valueByte(c); v.Action != Continue {
				return i + 1, v
			}
		}
	}
	return len(p), Verdict{}
}
