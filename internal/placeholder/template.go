package placeholder

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
)

// ErrInvalid is wrapped by every error Compile returns: match it with
// errors.Is, read the details with errors.As into *Error.
var ErrInvalid = errors.New("invalid template")

// Error describes why a template does not compile.
type Error struct {
	// Offset is the byte offset in the template where the problem starts.
	Offset int
	// Msg says what is wrong, quoting the offending part.
	Msg string
	// Hint says how to fix it (may be empty).
	Hint string
}

// Error renders "offset N: msg".
func (e *Error) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

// part is one literal run or one placeholder of a compiled template.
type part struct {
	kind kind
	// lit is the literal text (kindLiteral) or the placeholder's argument
	// source, used by String.
	lit string
	// arg is the placeholder argument: a canonical header name or a query
	// parameter name.
	arg string
}

// Template is a compiled template string. The zero value renders "".
// A Template is immutable after Compile and safe for concurrent use.
type Template struct {
	parts []part
	// literal is the whole rendering when the template has no placeholder.
	literal string
	static  bool
	// size is the sum of the literal parts, a guess for buffer growth.
	size int
}

// Compile parses s once, at configuration load. Placeholders are written
// {name}, {header.NAME} or {query.NAME}; "{{" is a literal '{' and "}}" a
// literal '}' (a lone '}' is kept as is). An unknown placeholder, an empty
// or unclosed one, or an invalid header name is an *Error wrapping
// ErrInvalid whose Hint lists the valid placeholders.
func Compile(s string) (Template, error) {
	var (
		t   Template
		lit strings.Builder
	)
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{kind: kindLiteral, lit: lit.String()})
			t.size += lit.Len()
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{':
			lit.WriteByte('{')
			i += 2
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			lit.WriteByte('}')
			i += 2
		case c == '{':
			end := strings.IndexAny(s[i+1:], "{}")
			if end < 0 || s[i+1+end] != '}' {
				return Template{}, &Error{Offset: i, Msg: fmt.Sprintf("unclosed placeholder in %q", s),
					Hint: "close it with '}', or write {{ for a literal '{'"}
			}
			name := s[i+1 : i+1+end]
			p, err := parsePlaceholder(name)
			if err != nil {
				err.Offset = i
				return Template{}, err
			}
			flush()
			t.parts = append(t.parts, p)
			i += end + 2
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	t.static = true
	for _, p := range t.parts {
		if p.kind != kindLiteral {
			t.static = false
		}
	}
	if t.static && len(t.parts) == 1 {
		t.literal = t.parts[0].lit
	}
	return t, nil
}

// MustCompile is Compile for templates fixed in code (tests); it panics on
// an error, as regexp.MustCompile does. Never use it on configuration input.
func MustCompile(s string) Template {
	t, err := Compile(s)
	if err != nil {
		panic(err)
	}
	return t
}

func parsePlaceholder(name string) (part, *Error) {
	if name == "" {
		return part{}, &Error{Msg: "empty placeholder {}", Hint: validHint}
	}
	if k, ok := simpleVars[name]; ok {
		return part{kind: k, lit: name}, nil
	}
	prefix, arg, ok := strings.Cut(name, ".")
	switch {
	case ok && prefix == "header":
		if !validToken(arg) {
			return part{}, &Error{Msg: fmt.Sprintf("invalid header name %q in {%s}", arg, name),
				Hint: "a header name is letters, digits and !#$%&'*+-.^_`|~ (RFC 9110 section 5.1)"}
		}
		return part{kind: kindHeader, lit: name, arg: textproto.CanonicalMIMEHeaderKey(arg)}, nil
	case ok && prefix == "query":
		if arg == "" {
			return part{}, &Error{Msg: "empty parameter name in {query.}", Hint: "write {query.NAME}"}
		}
		return part{kind: kindQueryArg, lit: name, arg: arg}, nil
	}
	return part{}, &Error{Msg: fmt.Sprintf("unknown placeholder {%s}", name), Hint: validHint}
}

// validToken reports whether s is an RFC 9110 section 5.6.2 token, the
// syntax of a field name (section 5.1).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ValidFieldName reports whether s is a valid HTTP field name (a token,
// RFC 9110 section 5.1). Exported for the packages that validate header
// names next to templates.
func ValidFieldName(s string) bool { return validToken(s) }

// IsStatic reports whether the template has no placeholder; Render then
// returns the same string for every request, without allocating.
func (t Template) IsStatic() bool { return t.static || len(t.parts) == 0 }

// StartsWithLiteral reports whether the template's rendering begins with
// prefix, whatever the request: the first part is a literal starting with
// prefix. Used to tell an operator's "//cdn.example.com/..." from a
// rendering that starts with "//" because of request data.
func (t Template) StartsWithLiteral(prefix string) bool {
	return len(t.parts) > 0 && t.parts[0].kind == kindLiteral && strings.HasPrefix(t.parts[0].lit, prefix)
}

// Render returns the template's value for r. A template without
// placeholders returns its literal with no allocation, and so does a
// template made of exactly one placeholder whose value already exists as a
// string ({host}, {header.X}, ...). r may carry no observe.RequestInfo:
// {request_id}, {client_ip} and {route} then render "".
func (t Template) Render(r *http.Request) string {
	switch {
	case len(t.parts) == 0:
		return ""
	case t.static:
		return t.literal
	case len(t.parts) == 1:
		return stringVar(&t.parts[0], r)
	}
	// One allocation: the builder's buffer, which becomes the string.
	var b strings.Builder
	b.Grow(t.size + 32)
	var ip [64]byte
	for i := range t.parts {
		p := &t.parts[i]
		switch p.kind {
		case kindLiteral:
			b.WriteString(p.lit)
		case kindClientIP:
			b.Write(appendVar(ip[:0], p, r))
		case kindURI:
			// Written in pieces: stringVar would concatenate first.
			b.WriteString(r.URL.EscapedPath())
			if r.URL.RawQuery != "" {
				b.WriteByte('?')
				b.WriteString(r.URL.RawQuery)
			}
		default:
			b.WriteString(stringVar(p, r))
		}
	}
	return b.String()
}

// Append appends the template's value for r to dst and returns the
// extended buffer, for callers that build a larger value.
func (t Template) Append(dst []byte, r *http.Request) []byte {
	for i := range t.parts {
		p := &t.parts[i]
		if p.kind == kindLiteral {
			dst = append(dst, p.lit...)
			continue
		}
		dst = appendVar(dst, p, r)
	}
	return dst
}

// String returns the template in source form: literal braces doubled,
// placeholders in braces. Compile(t.String()) yields an equal template.
func (t Template) String() string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.kind == kindLiteral {
			b.WriteString(strings.NewReplacer("{", "{{", "}", "}}").Replace(p.lit))
			continue
		}
		b.WriteByte('{')
		b.WriteString(p.lit)
		b.WriteByte('}')
	}
	return b.String()
}
