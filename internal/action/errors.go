package action

import (
	"errors"
	"io"
	"net/http"
	"strconv"
)

// ErrConfig is wrapped by every error the constructors return, so callers
// can tell a bad action config from other failures.
var ErrConfig = errors.New("invalid action")

// plainError writes a short plain-text error: the status and its text,
// nothing from Go or the file system (DESIGN.md: errors are ours).
func plainError(w http.ResponseWriter, r *http.Request, code int) {
	body := strconv.Itoa(code) + " " + http.StatusText(code) + "\n"
	h := w.Header()
	h.Del("Etag")
	h.Del("Last-Modified")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
}

// cleanValue replaces CR, LF, NUL and other control characters that request
// data may bring into a rendered header value with SP (RFC 9110 section
// 5.5), so a value can never split a header.
func cleanValue(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			b := []byte(v)
			for j := i; j < len(b); j++ {
				if c := b[j]; (c < 0x20 && c != '\t') || c == 0x7f {
					b[j] = ' '
				}
			}
			return string(b)
		}
	}
	return v
}
