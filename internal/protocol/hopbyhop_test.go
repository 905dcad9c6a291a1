package protocol

import (
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

func TestRemoveHopByHop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{
			name: "no Connection: fixed list removed, rest kept",
			in: hdr("Keep-Alive", "timeout=5", "Proxy-Connection", "keep-alive",
				"Proxy-Authenticate", "Basic", "Proxy-Authorization", "Basic eA==",
				"Te", "gzip", "Trailer", "X-T", "Transfer-Encoding", "chunked",
				"Upgrade", "websocket", "Content-Type", "text/plain", "Authorization", "Bearer x"),
			want: hdr("Content-Type", "text/plain", "Authorization", "Bearer x"),
		},
		{
			name: "Connection options removed, case-insensitive",
			in:   hdr("Connection", "X-Foo, x-bar", "X-Foo", "1", "X-Bar", "2", "X-Baz", "3"),
			want: hdr("X-Baz", "3"),
		},
		{
			name: "several Connection fields form one list",
			in:   hdr("Connection", "x-a", "Connection", "X-B,,", "X-A", "1", "X-B", "2", "X-C", "3"),
			want: hdr("X-C", "3"),
		},
		{
			name: "close and keep-alive options",
			in:   hdr("Connection", "close, Keep-Alive", "Keep-Alive", "max=5", "Accept", "*/*"),
			want: hdr("Accept", "*/*"),
		},
		{
			name: "empty elements and whitespace",
			in:   hdr("Connection", " , \tX-A\t ,", "X-A", "1", "Accept", "*/*"),
			want: hdr("Accept", "*/*"),
		},
		{
			name: "TE trailers survives as exactly trailers",
			in:   hdr("Te", "gzip, Trailers;q=1", "Content-Type", "application/grpc"),
			want: hdr("Te", "trailers", "Content-Type", "application/grpc"),
		},
		{
			name: "TE trailers survives even when Connection names TE (as httputil)",
			in:   hdr("Connection", "TE", "Te", "trailers"),
			want: hdr("Te", "trailers"),
		},
		{
			name: "TE without trailers removed",
			in:   hdr("Te", "gzip, deflate"),
			want: hdr(),
		},
		{
			name: "Connection cannot remove Content-Length or Host",
			in:   hdr("Connection", "content-length, host, x-a", "Content-Length", "5", "Host", "a.example", "X-A", "1"),
			want: hdr("Content-Length", "5", "Host", "a.example"),
		},
		{
			name: "Connection naming an absent field",
			in:   hdr("Connection", "X-Nope", "Accept", "*/*"),
			want: hdr("Accept", "*/*"),
		},
		{
			name: "upgrade request loses Upgrade and Connection",
			in:   hdr("Connection", "Upgrade", "Upgrade", "websocket", "Sec-Websocket-Key", "k"),
			want: hdr("Sec-Websocket-Key", "k"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			generic, direct := tt.in.Clone(), tt.in.Clone()
			RemoveHopByHop(strictHeader{t, generic}) // the Header interface path
			RemoveHopByHop(direct)                   // the http.Header fast path
			if !reflect.DeepEqual(generic, tt.want) {
				t.Errorf("via Header: got %v, want %v", generic, tt.want)
			}
			if !reflect.DeepEqual(direct, tt.want) {
				t.Errorf("via http.Header: got %v, want %v", direct, tt.want)
			}
		})
	}
}

func TestRemoveHopByHopAllocs(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
	}{
		{"no Connection", hdr("Accept", "*/*", "User-Agent", "x")},
		{"Connection keep-alive", hdr("Connection", "keep-alive")},
		{"Connection close, Upgrade", hdr("Connection", "close, Upgrade")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, func() {
				h := tt.h
				RemoveHopByHop(h)
			})
			if allocs != 0 {
				t.Errorf("allocs = %v, want 0", allocs)
			}
		})
	}
}

func TestIsUpgrade(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		h         http.Header
		wantProto string
		wantOK    bool
	}{
		{"websocket", hdr("Connection", "Upgrade", "Upgrade", "websocket"), "websocket", true},
		{"token among others, any case", hdr("Connection", "keep-alive, UPGRADE", "Upgrade", " websocket "), "websocket", true},
		{"second Connection field", hdr("Connection", "keep-alive", "Connection", "upgrade", "Upgrade", "h2c"), "h2c", true},
		{"list with versions", hdr("Connection", "upgrade", "Upgrade", "HTTP/2.0, SHTTP/1.3, IRC/6.9, RTA/x11"), "HTTP/2.0, SHTTP/1.3, IRC/6.9, RTA/x11", true},
		{"no upgrade option", hdr("Connection", "keep-alive", "Upgrade", "websocket"), "", false},
		{"option as substring only", hdr("Connection", "upgraded", "Upgrade", "websocket"), "", false},
		{"no Upgrade field", hdr("Connection", "upgrade"), "", false},
		{"empty Upgrade", hdr("Connection", "upgrade", "Upgrade", " "), "", false},
		{"invalid protocol", hdr("Connection", "upgrade", "Upgrade", "web socket"), "", false},
		{"control char", hdr("Connection", "upgrade", "Upgrade", "websocket\x00"), "", false},
		{"empty version", hdr("Connection", "upgrade", "Upgrade", "websocket/"), "", false},
		{"no Connection", hdr("Upgrade", "websocket"), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proto, ok := IsUpgrade(strictHeader{t, tt.h})
			if proto != tt.wantProto || ok != tt.wantOK {
				t.Errorf("IsUpgrade = %q, %v; want %q, %v", proto, ok, tt.wantProto, tt.wantOK)
			}
		})
	}
}

func FuzzRemoveHopByHop(f *testing.F) {
	f.Add("X-Foo, x-bar", "keep-alive", "trailers")
	f.Add("close", "", "gzip")
	f.Add(",,, ,", "Upgrade", "")
	f.Add("content-length, host, te", "connection", "Trailers, deflate")
	f.Add("a b, \x00, ü", "X-Forwarded-For", "trailers;q=0.5")
	f.Fuzz(func(t *testing.T, conn1, conn2, te string) {
		h := http.Header{}
		h.Add("Connection", conn1)
		h.Add("Connection", conn2)
		h.Set("Te", te)
		var names []string
		for _, c := range []string{conn1, conn2} {
			for _, opt := range strings.Split(c, ",") {
				opt = textproto.TrimString(opt)
				if opt == "" {
					continue
				}
				name := textproto.CanonicalMIMEHeaderKey(opt)
				names = append(names, name)
				h.Add(name, "v")
			}
		}
		for _, name := range hopByHop {
			h.Add(name, "v")
		}
		RemoveHopByHop(h)
		for _, name := range append(names, hopByHop[:]...) {
			if isProtectedFromConnection(name) {
				continue
			}
			got := h.Values(name)
			if name == "Te" && reflect.DeepEqual(got, []string{"trailers"}) {
				continue
			}
			if len(got) > 0 {
				t.Fatalf("%q survived: %q (Connection %q, %q)", name, got, conn1, conn2)
			}
		}
	})
}

func BenchmarkRemoveHopByHop(b *testing.B) {
	b.Run("no Connection", func(b *testing.B) {
		b.ReportAllocs()
		h := hdr("Accept", "*/*", "User-Agent", "bench", "Host", "example.com", "Accept-Encoding", "gzip")
		for b.Loop() {
			RemoveHopByHop(h)
		}
	})
	b.Run("Connection keep-alive", func(b *testing.B) {
		b.ReportAllocs()
		h := hdr("Accept", "*/*", "User-Agent", "bench")
		conn := []string{"keep-alive"}
		for b.Loop() {
			h["Connection"] = conn
			RemoveHopByHop(h)
		}
	})
}
