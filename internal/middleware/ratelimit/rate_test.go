package ratelimit

import (
	"errors"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"100/s", Rate{100, time.Second}, true},
		{"1000/m", Rate{1000, time.Minute}, true},
		{"10/h", Rate{10, time.Hour}, true},
		{"1/d", Rate{1, 24 * time.Hour}, true},
		{"1000000000/s", Rate{1_000_000_000, time.Second}, true},
		{"1000000001/s", Rate{}, false},
		{"0/s", Rate{}, false},
		{"010/s", Rate{}, false},
		{"-1/s", Rate{}, false},
		{"+1/s", Rate{}, false},
		{" 1/s", Rate{}, false},
		{"1/s ", Rate{}, false},
		{"1e3/s", Rate{}, false},
		{"10/5m", Rate{}, false},
		{"10/sec", Rate{}, false},
		{"10/S", Rate{}, false},
		{"10", Rate{}, false},
		{"/s", Rate{}, false},
		{"10/", Rate{}, false},
		{"", Rate{}, false},
		{"99999999999999999999/s", Rate{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			if tc.ok != (err == nil) {
				t.Fatalf("ParseRate(%q) error %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadRate) {
				t.Errorf("error %v does not wrap ErrBadRate", err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzParseRate: never panics; an accepted rate round-trips through String
// and has a positive interval.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"100/s", "1000/m", "10/h", "1/d", "0/s", "1e3/s", "10/5m", "/", "1000000000/s", "٣/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			if !errors.Is(err, ErrBadRate) {
				t.Fatalf("error %v does not wrap ErrBadRate", err)
			}
			return
		}
		if r.String() != s {
			t.Fatalf("String() = %q, input %q", r.String(), s)
		}
		r2, err := ParseRate(r.String())
		if err != nil || r2 != r {
			t.Fatalf("round trip of %q: %+v, %v", s, r2, err)
		}
		if r.Count < 1 || r.Count > MaxRateCount || r.Interval() <= 0 {
			t.Fatalf("accepted out-of-range rate %+v", r)
		}
	})
}
