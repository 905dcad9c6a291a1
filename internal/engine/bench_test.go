package engine

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// benchRequest is a typical browser-ish request head.
const benchRequest = "GET /api/v1/items?page=2&sort=desc HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: application/json, text/plain, */*\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Referer: https://app.example.com/items\r\n" +
	"Cookie: session=0123456789abcdef; theme=dark\r\n" +
	"Connection: keep-alive\r\n" +
	"Sec-Fetch-Mode: cors\r\n\r\n"

func BenchmarkParseHead(b *testing.B) {
	raw := []byte(benchRequest)
	sc, _ := protocol.NewFramingScanner(protocol.FramingLimits{})
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		_, hl, hv, _ := scanHead(sc, raw, 0)
		if hv != headDone {
			b.Fatal("not parsed")
		}
		r.reset()
		if parseHead(raw[:hl], &r) != 0 {
			b.Fatal("refused")
		}
		r.finishHead()
	}
}

func benchProxyHandler(b *testing.B, target string) (*ProxyHandler, *upstream.Target) {
	pool, err := upstream.NewPool("be", config.Upstream{Targets: []string{target}}, upstream.PoolOptions{})
	if err != nil {
		b.Fatal(err)
	}
	conns, _ := NewConnPool(PoolOptions{})
	b.Cleanup(conns.Close)
	h, err := NewProxyHandler(ProxyOptions{Pool: pool, Conns: conns, PreserveHost: true, RequestIDHeader: "X-Request-Id"})
	if err != nil {
		b.Fatal(err)
	}
	return h, pool.Targets()[0]
}

// BenchmarkOutboundHead builds the upstream request head from a parsed
// request: hop-by-hop removal, forwarding fields, request ID.
func BenchmarkOutboundHead(b *testing.B) {
	raw := []byte(benchRequest)
	h, t := benchProxyHandler(b, "127.0.0.1:9")
	sc, _ := protocol.NewFramingScanner(protocol.FramingLimits{})
	_, hl, _, _ := scanHead(sc, raw, 0)
	var r Request
	out := make([]byte, 0, outSize)
	b.ReportAllocs()
	for b.Loop() {
		r.reset()
		parseHead(raw[:hl], &r)
		r.finishHead()
		r.Scheme, r.ID = "http", "0123456789abcdefghijklmnop"
		out = h.appendRequestHead(out[:0], &r, t)
	}
}

// fixedBackend answers every request head on every connection with resp,
// without allocating per request.
func fixedBackend(b *testing.B, resp []byte) string {
	return serveConns(b, func(c net.Conn) {
		buf := make([]byte, 8192)
		n := 0
		for {
			m, err := c.Read(buf[n:])
			if err != nil {
				return
			}
			n += m
			for {
				i := bytes.Index(buf[:n], crlfcrlf)
				if i < 0 {
					break
				}
				if _, err := c.Write(resp); err != nil {
					return
				}
				n = copy(buf, buf[i+4:n])
			}
		}
	})
}

// BenchmarkProxyExchange measures one keep-alive GET through the engine
// (client → engine → backend → engine → client) over loopback, request IDs
// on. The client and backend do not allocate, so allocs/op is the engine's.
func BenchmarkProxyExchange(b *testing.B) {
	for _, size := range []int{1024, 100 << 10} {
		b.Run(sizeName(size), func(b *testing.B) {
			body := bytes.Repeat([]byte("x"), size)
			resp := append([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "+itoa(size)+"\r\n\r\n"), body...)
			r := newRig(b, fixedBackend(b, resp), rigOptions{})
			c, err := net.Dial("tcp", r.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /bytes HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
			// Learn the proxied response's length once (fixed: the
			// request ID has a fixed length).
			if _, err := c.Write(req); err != nil {
				b.Fatal(err)
			}
			first := make([]byte, len(resp)+1024)
			n := 0
			for !bytes.Contains(first[:n], crlfcrlf) || n-bytes.Index(first[:n], crlfcrlf)-4 < size {
				m, err := c.Read(first[n:])
				if err != nil {
					b.Fatal(err)
				}
				n += m
			}
			buf := make([]byte, n)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 1024 {
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
