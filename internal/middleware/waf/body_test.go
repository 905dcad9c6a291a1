package waf

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

const mb = 1 << 20

// patternReader yields size bytes of a harmless repeating text without
// holding them in memory.
type patternReader struct{ left int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		b[i] = "abcdefghij"[i%10]
	}
	p.left -= int64(len(b))
	return len(b), nil
}

// onlyReader hides io.WriterTo and Len so the client sends chunked.
type onlyReader struct{ io.Reader }

// TestLargeUploadStreams: a 100 MB body over the inspection limit still
// streams to the backend whole, while memory stays bounded (far below the
// body size): only the inspected prefix is buffered.
func TestLargeUploadStreams(t *testing.T) {
	// Not parallel: the allocation count must be this test's alone.
	g := newGateway(t, map[string]any{"request_body": map[string]any{"limit": "1MB", "over_limit": "pass"}}, nil)
	c := client()
	do(t, c, "GET", g.front.URL+"/warm", "", nil) // engine and connections ready
	// A multipart file upload, the usual shape of a large body: its file
	// part is inspected only in the first 1 MB (cheaply: CRS rules look at
	// file names and headers, not file content).
	head := "--xx\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big.bin\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n"
	tail := "\r\n--xx--\r\n"
	size := int64(len(head) + 100*mb + len(tail))
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			g.received.Store(0)
			var body io.Reader = io.MultiReader(strings.NewReader(head), &patternReader{left: 100 * mb}, strings.NewReader(tail))
			if chunked {
				body = onlyReader{body}
			}
			req, _ := http.NewRequest("POST", g.front.URL+"/upload", body)
			req.Header.Set("Content-Type", "multipart/form-data; boundary=xx")
			if !chunked {
				req.ContentLength = size
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			runtime.ReadMemStats(&after)
			if resp.StatusCode != 200 || string(got) != fmt.Sprintf("ok %d", size) {
				t.Fatalf("got %d %q, want the backend's ok %d", resp.StatusCode, got, size)
			}
			if g.received.Load() != size {
				t.Errorf("backend received %d bytes, want %d", g.received.Load(), size)
			}
			// Client, proxy and backend run in this process: everything they
			// allocated while 100 MB went through stays a small multiple of
			// the 1 MB prefix.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 24*mb {
				t.Errorf("allocated %d MB while streaming 100 MB: the body is being buffered", alloc/mb)
			}
			t.Logf("allocated %.1f MB", float64(after.TotalAlloc-before.TotalAlloc)/mb)
		})
	}
}

func TestRequestBodyLimits(t *testing.T) {
	t.Parallel()
	// Bodies are one long form value: inspecting costs about 5 µs per byte
	// (more under -race), so the limit here is small.
	pass := newGateway(t, map[string]any{"request_body": map[string]any{"limit": "8KB"}}, nil)
	reject := newGateway(t, map[string]any{"request_body": map[string]any{"limit": "8KB", "over_limit": "reject"}}, nil)
	detect := newGateway(t, map[string]any{"mode": "detection", "request_body": map[string]any{"limit": "8KB", "over_limit": "reject"}}, nil)
	const form = "application/x-www-form-urlencoded"
	filler := strings.Repeat("a", 20<<10)
	attackPrefix := "text=" + "%3Cscript%3Ealert(1)%3C%2Fscript%3E" + "&pad=" + filler
	attackSuffix := "pad=" + filler + "&text=" + "%3Cscript%3Ealert(1)%3C%2Fscript%3E"
	multipart := "--xx\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n" + filler + "\r\n--xx--\r\n"
	cases := []struct {
		name        string
		g           *gateway
		ctype, body string
		chunked     bool
		status      int
		reached     bool
	}{
		{"within limit", pass, "application/x-www-form-urlencoded", "a=1&b=2", false, 200, true},
		{"exactly the limit", pass, form, "b=" + strings.Repeat("b", 8<<10-2), false, 200, true},
		{"exactly the limit chunked, reject", reject, form, "b=" + strings.Repeat("b", 8<<10-2), true, 200, true},
		{"over, pass", pass, form, "pad=" + filler, false, 200, true},
		{"over, pass, attack in the prefix", pass, form, attackPrefix, false, 403, false},
		{"over, pass, attack past the prefix (documented gap)", pass, form, attackSuffix, false, 200, true},
		{"over, pass, truncated multipart", pass, "multipart/form-data; boundary=xx", multipart, true, 200, true},
		{"over, reject, length known", reject, form, "pad=" + filler, false, 413, false},
		{"over, reject, chunked", reject, form, "pad=" + filler, true, 413, false},
		{"over, reject in detection mode passes", detect, form, "pad=" + filler, true, 200, true},
		{"CRS refuses octet-stream by default (rule 920420)", pass, "application/octet-stream", "abc", false, 403, false},
	}
	c := client()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.g.hits.Load()
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunked {
				body = onlyReader{body}
			}
			status, got := do(t, c, "POST", tc.g.front.URL+"/form", tc.ctype, body)
			if status != tc.status {
				t.Fatalf("status %d (%q), want %d", status, got, tc.status)
			}
			reached := tc.g.hits.Load() > before
			if reached != tc.reached {
				t.Fatalf("backend reached: %v, want %v", reached, tc.reached)
			}
			switch {
			case reached && got != fmt.Sprintf("ok %d", len(tc.body)):
				t.Errorf("backend answered %q, want all %d bytes", got, len(tc.body))
			case !reached && got != string(protocol.ErrorBody(status, "rid-1")):
				t.Errorf("body %q, want Gatehouse's error body", got)
			}
		})
	}
	if len(detect.logs.linesWith("over the inspection limit")) == 0 {
		t.Errorf("detection mode did not log the over-limit body:\n%s", detect.logs)
	}
}

// TestReplayBodyWriteTo: the replayed body hands the remainder to io.Copy
// unchanged, through WriteTo.
func TestReplayBodyWriteTo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ prefix, rest string }{{"", ""}, {"abc", ""}, {"", "xyz"}, {"abc", "defgh"}} {
		var out bytes.Buffer
		b := &replayBody{prefix: []byte(tc.prefix), rest: io.NopCloser(strings.NewReader(tc.rest))}
		n, err := io.Copy(&out, b)
		if err != nil || out.String() != tc.prefix+tc.rest || n != int64(len(tc.prefix+tc.rest)) {
			t.Errorf("%q+%q: copied %d %q, %v", tc.prefix, tc.rest, n, out.String(), err)
		}
		b = &replayBody{prefix: []byte(tc.prefix), rest: io.NopCloser(strings.NewReader(tc.rest))}
		all, err := io.ReadAll(onlyReader{b})
		if err != nil || string(all) != tc.prefix+tc.rest {
			t.Errorf("%q+%q: read %q, %v", tc.prefix, tc.rest, all, err)
		}
	}
}
