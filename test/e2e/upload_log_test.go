package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The access-log line of a request whose body took many reads still names
// its method and path: body reads must not overwrite the request head the
// line is written from (the own engine reads bodies into the buffer the
// head was parsed from).
func TestAccessLogAfterLargeUpload(t *testing.T) {
	rec := newRecorder(t, "up")
	gw := start(t, upstreamConfig("round_robin", []string{rec.Addr()}, ""))
	for _, tc := range []struct {
		method  string
		size    int
		chunked bool
	}{
		{http.MethodPost, 300 << 10, false}, // spliced
		{http.MethodPut, 300 << 10, true},   // read chunk by chunk
		{http.MethodPut, 40 << 10, false},   // buffered for retries
		{http.MethodPost, 40 << 10, true},
	} {
		method := tc.method
		body := strings.Repeat("u", tc.size)
		var rd io.Reader = strings.NewReader(body)
		if tc.chunked {
			rd = io.MultiReader(rd) // unknown length: sent chunked
		}
		req, _ := http.NewRequest(method, gw.URL("/uploads/file-name"), rd)
		req.Header.Set("Content-Type", "application/octet-stream")
		res, err := newClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || len(rec.Last(t).Body) != len(body) {
			t.Fatalf("%s: status %d, backend got %d bytes", method, res.StatusCode, len(rec.Last(t).Body))
		}
		line := gw.AccessLine(res.Header.Get("X-Request-ID"))
		if line.str("method") != method || line.str("path") != "/uploads/file-name" || line.str("host") != gw.Addr {
			t.Fatalf("%s: access log has method %q path %q host %q", method, line.str("method"), line.str("path"), line.str("host"))
		}
	}
}
