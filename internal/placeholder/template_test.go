package placeholder

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

func testRequest(withInfo bool) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://api.example.com/a%20b/c?page=2&q=x%2By&sp=a+b", nil)
	r.RemoteAddr = "192.0.2.7:40123"
	r.Header.Set("X-Api-Key", "k1")
	if withInfo {
		info := &observe.RequestInfo{ID: "rid-1", ClientIP: netip.MustParseAddr("203.0.113.9"), Scheme: "https", Route: "api"}
		r = r.WithContext(observe.WithInfo(context.Background(), info))
	}
	return r
}

func TestRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tmpl string
		info       bool
		want       string
	}{
		{"literal", "gatehouse", false, "gatehouse"},
		{"empty", "", false, ""},
		{"escaped braces", "{{x}}", false, "{x}"},
		{"lone close brace", "a}b", false, "a}b"},
		{"client ip", "{client_ip}", true, "203.0.113.9"},
		{"client ip without info", "{client_ip}", false, ""},
		{"request id prefixed", "req-{request_id}", true, "req-rid-1"},
		{"request id without info", "req-{request_id}", false, "req-"},
		{"header", "{header.X-Api-Key}", false, "k1"},
		{"header any case", "{header.x-api-key}", false, "k1"},
		{"missing header", "[{header.X-None}]", false, "[]"},
		{"query arg", "{query.page}", false, "2"},
		{"query arg escaped", "{query.q}", false, "x+y"},
		{"query arg plus", "{query.sp}", false, "a b"},
		{"query arg missing", "{query.nope}", false, ""},
		{"host method", "{method} {host}", false, "GET api.example.com"},
		{"path escaped", "{path}", false, "/a%20b/c"},
		{"query raw", "{query}", false, "page=2&q=x%2By&sp=a+b"},
		{"uri", "{uri}", false, "/a%20b/c?page=2&q=x%2By&sp=a+b"},
		{"scheme from info", "{scheme}://{host}", true, "https://api.example.com"},
		{"scheme without info", "{scheme}", false, "http"},
		{"route", "{route}", true, "api"},
		{"remote port", "{remote_port}", false, "40123"},
		{"mixed", "{client_ip}:{remote_port}/{route}", true, "203.0.113.9:40123/api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp, err := Compile(tt.tmpl)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.tmpl, err)
			}
			r := testRequest(tt.info)
			if got := tp.Render(r); got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
			if got := string(tp.Append([]byte("x"), r)); got != "x"+tt.want {
				t.Errorf("Append = %q, want %q", got, "x"+tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tmpl string
		offset     int
		msg, hint  string
	}{
		{"unknown", "a{nope}", 1, "unknown placeholder {nope}", "{client_ip}"},
		{"empty", "{}", 0, "empty placeholder", "valid placeholders"},
		{"unclosed", "x{host", 1, "unclosed", "{{"},
		{"nested open", "{ho{st}", 0, "unclosed", "{{"},
		{"bad header", "{header.X Y}", 0, "invalid header name", "RFC 9110"},
		{"empty query", "{query.}", 0, "empty parameter", "{query.NAME}"},
		{"unknown prefix", "{cookie.a}", 0, "unknown placeholder", "valid placeholders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tt.tmpl)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Compile(%q) = %v, want ErrInvalid", tt.tmpl, err)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("not an *Error: %T", err)
			}
			if pe.Offset != tt.offset || !strings.Contains(pe.Msg, tt.msg) || !strings.Contains(pe.Hint, tt.hint) {
				t.Errorf("got offset %d msg %q hint %q; want %d, %q, %q", pe.Offset, pe.Msg, pe.Hint, tt.offset, tt.msg, tt.hint)
			}
		})
	}
}

func TestStartsWithLiteral(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tmpl, prefix string
		want         bool
	}{
		{"//cdn.example.com{path}", "//", true},
		{"{path}", "/", false},
		{"/x{path}", "/", true},
		{"", "/", false},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			t.Parallel()
			if got := MustCompile(tt.tmpl).StartsWithLiteral(tt.prefix); got != tt.want {
				t.Errorf("StartsWithLiteral(%q) = %v, want %v", tt.prefix, got, tt.want)
			}
		})
	}
}

func TestRenderAllocs(t *testing.T) {
	r := testRequest(true)
	tests := []struct {
		tmpl string
		max  float64
	}{
		{"gatehouse", 0},
		{"{host}", 0},
		{"{header.X-Api-Key}", 0},
		{"req-{request_id}", 1},
	}
	for _, tt := range tests {
		tp := MustCompile(tt.tmpl)
		if got := testing.AllocsPerRun(100, func() { _ = tp.Render(r) }); got > tt.max {
			t.Errorf("%q: %v allocs per Render, want <= %v", tt.tmpl, got, tt.max)
		}
	}
	buf := make([]byte, 0, 128)
	tp := MustCompile("{client_ip} {request_id} {route} {host}")
	if got := testing.AllocsPerRun(100, func() { buf = tp.Append(buf[:0], r) }); got != 0 {
		t.Errorf("Append into a sized buffer: %v allocs, want 0", got)
	}
}

func BenchmarkRender(b *testing.B) {
	r := testRequest(true)
	for _, s := range []string{"gatehouse", "{client_ip}", "req-{request_id}", "https://{host}{uri}"} {
		tp := MustCompile(s)
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = tp.Render(r)
			}
		})
	}
}
