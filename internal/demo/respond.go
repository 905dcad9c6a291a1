package demo

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// maxRequestBody bounds the request bodies the demo backends read. The demo
// is small on purpose; anything larger is refused with 413.
const maxRequestBody = 1 << 20

// writeJSON answers with v as JSON. Encoding errors can only come from the
// connection at this point, so they are dropped.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// apiError is the OpenAI-style error body: {"error": {"message", "type"}}.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Message string `json:"message"`
	Type    string `json:"type"`
}

// writeError answers with an OpenAI-style JSON error. msg is our own fixed
// text, never a Go error's.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: apiErrorBody{Message: msg, Type: "invalid_request_error"}})
}

// readBody reads a bounded request body, answering the client itself when it
// cannot (413 for too large, 400 otherwise); ok reports whether to go on.
func readBody(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	buf, err := io.ReadAll(r.Body)
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			writeError(w, http.StatusRequestEntityTooLarge, "request body is too large")
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "could not read the request body")
		return nil, false
	}
	return buf, true
}

// requirePost answers 405 with Allow: POST (RFC 9110 section 15.5.6
// requires Allow on a 405) unless r is a POST.
func requirePost(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	writeError(w, http.StatusMethodNotAllowed, "use POST")
	return false
}
