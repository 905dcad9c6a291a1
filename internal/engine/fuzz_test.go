package engine

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"golang.org/x/net/http/httpguts"
)

// parseAll runs the engine's head reading on raw without a connection:
// the scanner, parseHead and the body framing (decoded). status is 0 when
// the request is accepted; refusedByScanner says whether the refusal came
// from the shared framing rules (the documented guard strictness) rather
// than from the checks parseHead mirrors from net/http.
func parseAll(raw []byte) (r *Request, body []byte, status int, refusedByScanner bool) {
	sc, _ := protocol.NewFramingScanner(protocol.FramingLimits{})
	fed, hl, hv, v := scanHead(sc, raw, 0)
	_ = fed
	switch hv {
	case headReject:
		return nil, nil, v.Status, true
	case headMore, headH2Preface:
		return nil, nil, -1, true // incomplete: nothing to compare
	}
	r = &Request{}
	if st := parseHead(raw[:hl], r); st != 0 {
		return nil, nil, st, false
	}
	r.finishHead()
	rest := raw[hl:]
	if r.HasBody() {
		n, v := sc.Feed(rest)
		switch v.Action {
		case protocol.MessageEnd:
		case protocol.Reject:
			return nil, nil, v.Status, true
		default:
			return nil, nil, -1, true // body incomplete
		}
		framed := rest[:n]
		if r.chunked {
			out := make([]byte, len(framed))
			var d dechunker
			body = out[:d.decode(framed, out)]
		} else {
			body = framed
		}
	}
	return r, body, 0, false
}

// goParse is net/http's server view of raw: http.ReadRequest plus the
// checks its server adds (version, Host).
func goParse(raw []byte) (*http.Request, []byte, bool) {
	br := bufio.NewReader(bytes.NewReader(raw))
	// net/http's server skips leading CRLFs as well (RFC 9112 §2.2).
	for {
		b, err := br.Peek(2)
		if err != nil || string(b) != "\r\n" {
			break
		}
		_, _ = br.Discard(2)
	}
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, false
	}
	if req.ProtoMajor != 1 {
		return nil, nil, false
	}
	// http.ReadRequest moves Host out of the header; the server's
	// "missing required Host header" check looks at the fields.
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(bytes.TrimLeft(raw, "\r\n"))))
	_, _ = tp.ReadLine()
	fields, _ := tp.ReadMIMEHeader()
	if req.ProtoAtLeast(1, 1) && len(fields["Host"]) == 0 && req.Method != "CONNECT" {
		return nil, nil, false
	}
	if len(fields["Host"]) == 1 && !httpguts.ValidHostHeader(fields["Host"][0]) {
		return nil, nil, false // the server's "malformed Host header"
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, nil, false
	}
	return req, body, true
}

func FuzzParseDifferential(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a%20b?q=1 HTTP/1.1\r\nHost: a:80\r\nX: 1\r\nX: 2\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
		"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
		"\r\nGET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX:  padded \t\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://x/y HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, body, status, strict := parseAll(raw)
		greq, gbody, gok := goParse(raw)
		if status == -1 {
			return
		}
		if status != 0 {
			if gok && !strict {
				t.Fatalf("engine refuses (%d) what net/http accepts, outside the scanner's rules: %q", status, raw)
			}
			return
		}
		if !gok {
			t.Fatalf("engine accepts what net/http refuses: %q", raw)
		}
		if r.Method != greq.Method || r.Target != greq.RequestURI || r.Host != greq.Host && r.OriginForm() {
			t.Fatalf("start line differs: %q %q %q vs %q %q %q", r.Method, r.Target, r.Host, greq.Method, greq.RequestURI, greq.Host)
		}
		if r.ProtoMinor != greq.ProtoMinor {
			t.Fatalf("version %d vs %d", r.ProtoMinor, greq.ProtoMinor)
		}
		// Same fields, same values in order (net/http moves Host out).
		got := map[string][]string{}
		for i := 0; i < r.Header.Cap(); i++ {
			name, value, _ := r.Header.Field(i)
			k := http.CanonicalHeaderKey(name)
			if k == "Host" {
				continue
			}
			if k == "Transfer-Encoding" {
				// net/http moves it to Request.TransferEncoding.
				if len(greq.TransferEncoding) == 0 || !r.chunked {
					t.Fatalf("chunked: engine %v, net/http %v", r.chunked, greq.TransferEncoding)
				}
				continue
			}
			got[k] = append(got[k], value)
		}
		for k, vs := range greq.Header {
			if strings.Join(vs, "\x00") != strings.Join(got[k], "\x00") {
				t.Fatalf("field %s: %q vs %q", k, got[k], vs)
			}
			delete(got, k)
		}
		if len(got) != 0 {
			t.Fatalf("fields net/http does not see: %v", got)
		}
		if !bytes.Equal(body, gbody) {
			t.Fatalf("body %q vs %q", body, gbody)
		}
	})
}
