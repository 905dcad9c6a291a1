package compress

import (
	"strings"
	"testing"
)

func TestNegotiate(t *testing.T) {
	t.Parallel()
	all := []Encoding{Zstd, Brotli, Gzip}
	tests := []struct {
		name  string
		lines []string // nil: no Accept-Encoding
		offer []Encoding
		want  Encoding
	}{
		{"absent", nil, all, Identity},
		{"empty value", []string{""}, all, Identity},
		{"only gzip", []string{"gzip"}, all, Gzip},
		{"browser list, server order decides", []string{"gzip, deflate, br, zstd"}, all, Zstd},
		{"server order br first", []string{"gzip, deflate, br, zstd"}, []Encoding{Brotli, Zstd, Gzip}, Brotli},
		{"client weight beats server order", []string{"zstd;q=0.5, gzip"}, all, Gzip},
		{"q=0 excludes", []string{"zstd;q=0, br;q=0, gzip"}, all, Gzip},
		{"all excluded", []string{"gzip;q=0"}, all, Identity},
		{"star", []string{"*"}, all, Zstd},
		{"star with exclusions", []string{"*, zstd;q=0"}, all, Brotli},
		{"star zero", []string{"*;q=0"}, all, Identity},
		{"identity excluded, nothing else", []string{"identity;q=0"}, all, Identity},
		{"identity preferred", []string{"gzip;q=0.5, identity"}, all, Identity},
		{"identity lower", []string{"gzip, identity;q=0.5"}, all, Gzip},
		{"identity equal weight: coding", []string{"gzip, identity"}, all, Gzip},
		{"x-gzip", []string{"x-gzip"}, all, Gzip},
		{"case-insensitive", []string{"GZIP;Q=0.8, Br;q=0.9"}, all, Brotli},
		{"whitespace", []string{" gzip ; q=0.5 ,\tbr ;q=0.7 "}, all, Brotli},
		{"several field lines", []string{"gzip;q=0.1", "br"}, all, Brotli},
		{"three decimals", []string{"gzip;q=0.001"}, all, Gzip},
		{"too many decimals ignored", []string{"gzip;q=0.0001, br;q=0.1"}, all, Brotli},
		{"q above 1 ignored", []string{"br;q=1.5, gzip;q=0.2"}, all, Gzip},
		{"bad q ignored", []string{"br;q=abc"}, all, Identity},
		{"1.000 ok", []string{"br;q=1.000"}, all, Brotli},
		{"1.001 invalid", []string{"br;q=1.001"}, all, Identity},
		{"other params ignored", []string{"gzip;level=9"}, all, Gzip},
		{"first mention counts", []string{"gzip;q=0, gzip"}, all, Identity},
		{"not offered", []string{"br"}, []Encoding{Gzip}, Identity},
		{"unknown codings", []string{"deflate, compress, sdch"}, all, Identity},
		{"empty elements", []string{",,gzip,,"}, all, Gzip},
		{"no offer", []string{"gzip"}, nil, Identity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Negotiate(tc.lines, tc.offer); got != tc.want {
				t.Errorf("Negotiate(%q) = %s, want %s", tc.lines, got, tc.want)
			}
		})
	}
}

func TestParseEncodings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      []string
		want    []Encoding
		wantErr bool
	}{
		{[]string{"br", "zstd", "gzip"}, []Encoding{Brotli, Zstd, Gzip}, false},
		{[]string{"Brotli", "GZIP"}, []Encoding{Brotli, Gzip}, false},
		{[]string{"identity"}, nil, true},
		{[]string{"deflate"}, nil, true},
		{[]string{"gzip", "gzip"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.in, ","), func(t *testing.T) {
			t.Parallel()
			got, err := ParseEncodings(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !tc.wantErr && (len(got) != len(tc.want) || got[0] != tc.want[0]) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNegotiateAllocs(t *testing.T) {
	lines := []string{"gzip, deflate, br, zstd"}
	offer := DefaultEncodings()
	if n := testing.AllocsPerRun(100, func() { Negotiate(lines, offer) }); n != 0 {
		t.Errorf("Negotiate allocates %v times", n)
	}
}

func BenchmarkNegotiate(b *testing.B) {
	lines := []string{"gzip, deflate, br, zstd"}
	offer := DefaultEncodings()
	b.ReportAllocs()
	for b.Loop() {
		Negotiate(lines, offer)
	}
}
