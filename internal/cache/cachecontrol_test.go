package cache

import (
	"reflect"
	"testing"
)

func TestParseCacheControl(t *testing.T) {
	cases := []struct {
		name string
		in   []string
		want string // canonical String()
	}{
		{"§5.2/empty", nil, ""},
		{"§5.2/case-insensitive", []string{"Max-Age=5, PUBLIC"}, "max-age=5, public"},
		{"§5.2/several-lines", []string{"max-age=5", "no-cache"}, "max-age=5, no-cache"},
		{"§4.2.1/duplicate-most-restrictive", []string{"max-age=50, max-age=5"}, "max-age=5"},
		{"§4.2.1/invalid-max-age-is-stale", []string{"max-age=abc"}, "max-age=0"},
		{"§4.2.1/quoted-max-age", []string{`max-age="5"`}, "max-age=5"},
		{"§1.2.2/overflow-capped", []string{"max-age=99999999999999999999"}, "max-age=2147483648"},
		{"§5.2.1.2/max-stale-any", []string{"max-stale"}, "max-stale"},
		{"§5.2.2.4/no-cache-fields", []string{`no-cache="set-cookie, x-a", max-age=3`}, `max-age=3, no-cache="Set-Cookie, X-A"`},
		{"§5.2.2.4/bare-wins", []string{`no-cache="x-a", no-cache`}, "no-cache"},
		{"§5.2.2.7/private-fields", []string{`private="X-B"`}, `private="X-B"`},
		{"§5.2.3/unknown-ignored", []string{`foo="a,b", bar, max-age=1`}, "max-age=1"},
		{"RFC5861/extensions", []string{"stale-while-revalidate=30, stale-if-error=60"}, "stale-while-revalidate=30, stale-if-error=60"},
		{"§5.2/whitespace", []string{" ,, max-age = 7 ,"}, "max-age=7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ParseCacheControl(tc.in).String(); got != tc.want {
				t.Fatalf("ParseCacheControl(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", `no-cache="a, b", private`, "s-maxage=1, must-revalidate", `x="\"", max-stale`, "max-age=99999999999999999999", ", ,=,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseCacheControl([]string{s})
		for _, n := range []int64{d.MaxAge, d.SMaxAge, d.MinFresh, d.MaxStale, d.StaleIfError, d.StaleWhileRevalidate} {
			if n < -1 || n > maxDelta {
				t.Fatalf("%q: duration %d out of range", s, n)
			}
		}
		// Oracle: the canonical rendering parses back to the same value.
		again := ParseCacheControl([]string{d.String()})
		if !reflect.DeepEqual(normalize(d), normalize(again)) {
			t.Fatalf("%q: round trip %+v != %+v (via %q)", s, d, again, d.String())
		}
	})
}

func normalize(d Directives) Directives {
	if len(d.NoCacheFields) == 0 {
		d.NoCacheFields = nil
	}
	if len(d.PrivateFields) == 0 {
		d.PrivateFields = nil
	}
	return d
}

func BenchmarkParseCacheControl(b *testing.B) {
	v := []string{"public, max-age=3600, stale-while-revalidate=60"}
	b.ReportAllocs()
	for b.Loop() {
		_ = ParseCacheControl(v)
	}
}
