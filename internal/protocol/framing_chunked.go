package protocol

// This file follows the chunked transfer coding (RFC 9112 §7.1):
//
//	chunked-body = *chunk last-chunk trailer-section CRLF
//	chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//	chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//
// Unlike field lines, chunk lines may not end in a bare LF (RFC 9112 §7.1,
// erratum 7633), and net/http agrees.

const (
	reasonChunkSize    = "invalid chunk-size line"
	reasonChunkTooBig  = "chunk-size too large"
	reasonChunkExt     = "invalid chunk extension"
	reasonChunkExtLong = "chunk extensions too long"
	reasonChunkDataEnd = "missing CRLF after chunk data"
)

// maxChunkSizeDigits matches net/http, which refuses a 17th hex digit
// (leading zeros included).
const maxChunkSizeDigits = 16

// chunkByte advances the chunk-line states by one byte (chunk data is
// skipped in bulk by step).
func (s *FramingScanner) chunkByte(c byte) Verdict {
	ows := c == ' ' || c == '\t'
	if s.st >= stExtPreName && s.st <= stExtPostVal {
		s.extBytes++
		if s.extBytes > s.limits.MaxChunkExtBytes {
			return s.reject(400, reasonChunkExtLong)
		}
	}
	switch s.st {
	case stChunkSize:
		switch {
		case isHex(c):
			if s.digits == maxChunkSizeDigits {
				return s.reject(400, reasonChunkTooBig)
			}
			s.digits++
			s.remain = s.remain<<4 | uint64(hexVal(c))
			return Verdict{}
		case s.digits == 0:
			return s.reject(400, reasonChunkSize)
		case c == '\r':
			s.st = stChunkSizeLF
		case c == ';':
			s.st = stExtPreName
		case ows:
			// BWS is allowed only before a ";" (chunk-ext); net/http
			// also accepts trailing whitespace with no extension, which
			// the grammar does not.
			s.st = stChunkSizeBWS
		default:
			return s.reject(400, reasonChunkSize)
		}
	case stChunkSizeBWS:
		switch {
		case ows:
		case c == ';':
			s.st = stExtPreName
		default:
			return s.reject(400, reasonChunkSize)
		}
	case stExtPreName:
		switch {
		case ows:
		case isTchar(c):
			s.st = stExtName
		default:
			return s.reject(400, reasonChunkExt)
		}
	case stExtName:
		switch {
		case isTchar(c):
		case ows:
			s.st = stExtPostName
		case c == '=':
			s.st = stExtPreVal
		case c == ';':
			s.st = stExtPreName
		case c == '\r':
			s.st = stChunkSizeLF
		default:
			return s.reject(400, reasonChunkExt)
		}
	case stExtPostName:
		switch {
		case ows:
		case c == '=':
			s.st = stExtPreVal
		case c == ';':
			s.st = stExtPreName
		default:
			// A CR after BWS is whitespace at the end of the line.
			return s.reject(400, reasonChunkExt)
		}
	case stExtPreVal:
		switch {
		case ows:
		case c == '"':
			s.st = stExtQuoted
		case isTchar(c):
			s.st = stExtValTok
		default:
			return s.reject(400, reasonChunkExt)
		}
	case stExtValTok:
		switch {
		case isTchar(c):
		case ows:
			s.st = stExtPostVal
		case c == ';':
			s.st = stExtPreName
		case c == '\r':
			s.st = stChunkSizeLF
		default:
			return s.reject(400, reasonChunkExt)
		}
	case stExtQuoted:
		// quoted-string (RFC 9110 §5.6.4): qdtext / quoted-pair.
		switch {
		case c == '"':
			s.st = stExtAfterQuote
		case c == '\\':
			s.st = stExtQuotedEsc
		case c == '\t' || (c >= ' ' && c != 0x7f):
		default:
			return s.reject(400, reasonChunkExt)
		}
	case stExtQuotedEsc:
		if c != '\t' && (c < ' ' || c == 0x7f) {
			return s.reject(400, reasonChunkExt)
		}
		s.st = stExtQuoted
	case stExtAfterQuote:
		switch {
		case ows:
			s.st = stExtPostVal
		case c == ';':
			s.st = stExtPreName
		case c == '\r':
			s.st = stChunkSizeLF
		default:
			return s.reject(400, reasonChunkExt)
		}
	case stExtPostVal:
		// BWS is only allowed before another ";": whitespace at the end
		// of the line is not in the grammar.
		switch {
		case ows:
		case c == ';':
			s.st = stExtPreName
		default:
			return s.reject(400, reasonChunkExt)
		}
	case stChunkSizeLF:
		if c != '\n' {
			return s.reject(400, reasonBareCR)
		}
		s.digits, s.extBytes = 0, 0
		if s.remain == 0 {
			// last-chunk: the trailer section follows.
			s.inTrailer = true
			s.headBytes = 0
			s.nameLen = 0
			s.st = stFieldStart
			return Verdict{}
		}
		s.st = stChunkData
	case stChunkDataCR:
		if c != '\r' {
			return s.reject(400, reasonChunkDataEnd)
		}
		s.st = stChunkDataLF
	case stChunkDataLF:
		if c != '\n' {
			return s.reject(400, reasonChunkDataEnd)
		}
		s.st = stChunkSize
	}
	return Verdict{}
}

func hexVal(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}
