package protocol

import (
	"strings"
	"testing"
)

var benchGET = []byte("GET /api/v1/users/12345?fields=name,email HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: application/json\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=abcdef0123456789\r\n\r\n")

var benchPOST = []byte("POST /upload HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/octet-stream\r\n" +
	"Transfer-Encoding: chunked\r\n\r\n" +
	"400\r\n" + strings.Repeat("x", 1024) + "\r\n400;ext=1\r\n" + strings.Repeat("y", 1024) + "\r\n0\r\n\r\n")

func benchFeed(b *testing.B, msg []byte) {
	s, err := NewFramingScanner(FramingLimits{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if n, v := s.Feed(msg); v.Action != MessageEnd || n != len(msg) {
			b.Fatalf("%+v %d", v, n)
		}
	}
}

func BenchmarkFeedGET(b *testing.B)         { benchFeed(b, benchGET) }
func BenchmarkFeedChunkedPOST(b *testing.B) { benchFeed(b, benchPOST) }
