package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestHostileFraming sends request shapes used for smuggling and header
// abuse over raw TCP. Each must get the right 4xx, and a request whose head
// is invalid must never reach the backend (RFC 9112 §6.1, §6.3, §5.1, §5.2,
// §2.2; RFC 9110 §5.1).
func TestHostileFraming(t *testing.T) {
	be := newRecorder(t, "be")
	inst := start(t, fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
server: { max_uri_bytes: 4KB, max_header_bytes: 16KB }
routes:
  - match: { path: /* }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, be.Addr()))

	var hugeHead strings.Builder
	for i := range 64 {
		fmt.Fprintf(&hugeHead, "X-Pad-%d: %s\r\n", i, strings.Repeat("h", 1000))
	}
	cases := []struct {
		name   string
		req    string
		status int
		// headOnly: the head itself is invalid, so the backend must see
		// nothing. Otherwise (a bad chunk in the body) a streaming proxy may
		// already have sent the head; the backend must still never get a
		// complete request.
		headOnly bool
	}{
		{
			name:   "Content-Length and Transfer-Encoding",
			req:    "POST /s HTTP/1.1\r\nHost: s.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: s.test\r\n\r\n",
			status: 400, headOnly: true,
		},
		{
			name:   "two different Content-Lengths",
			req:    "POST /s HTTP/1.1\r\nHost: s.test\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
			status: 400, headOnly: true,
		},
		{
			name:   "Content-Length list with different values",
			req:    "POST /s HTTP/1.1\r\nHost: s.test\r\nContent-Length: 4, 5\r\n\r\nabcde",
			status: 400, headOnly: true,
		},
		{
			name:   "Transfer-Encoding not ending in chunked",
			req:    "POST /s HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
			status: 400, headOnly: true,
		},
		{
			name:   "bad chunk size",
			req:    "POST /s HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
			status: 400,
		},
		{
			name:   "obs-fold",
			req:    "GET /s HTTP/1.1\r\nHost: s.test\r\nX-Folded: a\r\n b\r\n\r\n",
			status: 400, headOnly: true,
		},
		{
			name:   "bare LF in the head",
			req:    "GET /s HTTP/1.1\r\nHost: s.test\r\nX-A: 1\nX-B: 2\r\n\r\n",
			status: 400, headOnly: true,
		},
		{
			name:   "invalid header name",
			req:    "GET /s HTTP/1.1\r\nHost: s.test\r\nBad[Name]: x\r\n\r\n",
			status: 400, headOnly: true,
		},
		{
			name:   "space before colon",
			req:    "GET /s HTTP/1.1\r\nHost: s.test\r\nX-Foo : x\r\n\r\n",
			status: 400, headOnly: true,
		},
		{
			name:   "missing Host",
			req:    "GET /s HTTP/1.1\r\n\r\n",
			status: 400, headOnly: true,
		},
		{
			name:   "two Hosts",
			req:    "GET /s HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
			status: 400, headOnly: true,
		},
		{
			name:   "URI too long",
			req:    "GET /" + strings.Repeat("u", 6000) + " HTTP/1.1\r\nHost: s.test\r\n\r\n",
			status: 414, headOnly: true,
		},
		{
			name:   "head too large",
			req:    "GET /s HTTP/1.1\r\nHost: s.test\r\n" + hugeHead.String() + "\r\n",
			status: 431, headOnly: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, beforeComplete := be.Count(), be.Complete()
			resp, body, err := rawExchange(inst.Addr, tc.req)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			if tc.headOnly {
				if n := be.Count() - before; n != 0 {
					t.Errorf("backend received %d request(s), want 0; last %+v", n, be.Last(t))
				}
			} else if n := be.Complete() - beforeComplete; n != 0 {
				t.Errorf("backend received %d complete request(s), want 0", n)
			}
		})
	}
	// The same connection-level checks must leave the proxy healthy.
	resp, body, err := rawExchange(inst.Addr, "GET /fine HTTP/1.1\r\nHost: s.test\r\n\r\n")
	if err != nil || resp.StatusCode != 200 || string(body) != "be /fine" {
		t.Fatalf("a valid request afterwards: %v %v %q", err, resp, body)
	}
}
