package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// errorBody is every error answer: a message and, for a refused reload,
// the positioned configuration errors.
type errorBody struct {
	Error  string        `json:"error"`
	Errors []configError `json:"errors,omitempty"`
}

// configError is one config.Error as JSON.
type configError struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Text is the one-line form gatehouse validate prints
	// (FILE:LINE:COL: message (hint: ...)).
	Text string `json:"text"`
}

func configErrors(list config.ErrorList) []configError {
	out := make([]configError, 0, len(list))
	for _, e := range list {
		out = append(out, configError{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col, Message: e.Msg, Hint: e.Hint, Text: e.Error()})
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string, list config.ErrorList) {
	writeJSON(w, status, errorBody{Error: msg, Errors: configErrors(list)})
}

// errBadRequest marks a request body the API cannot use.
var errBadRequest = errors.New("bad request")

// decode reads r's JSON body into v, strictly (unknown fields are errors,
// as in the configuration file). An empty body leaves v as it is when
// optional is set.
func decode(r *http.Request, v any, optional bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return fmt.Errorf("%w: send Content-Type: application/json", errBadRequest)
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return fmt.Errorf("%w: body larger than %d bytes", errBadRequest, tooBig.Limit)
		case optional && errors.Is(err, io.EOF):
			return nil
		default:
			return fmt.Errorf("%w: body is not the expected JSON object: %v", errBadRequest, err)
		}
	}
	if dec.More() {
		return fmt.Errorf("%w: one JSON object expected", errBadRequest)
	}
	return nil
}
