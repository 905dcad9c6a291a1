package config

import (
	"errors"
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"30s", 30 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"300ms", 300 * time.Millisecond, false},
		{" 2h ", 2 * time.Hour, false},
		{"0", 0, false},
		{"0s", 0, false},
		{"30", 0, true},
		{"1.5", 0, true},
		{"-5s", 0, true},
		{"", 0, true},
		{"5 minutes", 0, true},
		{"9999999999h", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("ParseDuration(%q) error = %v, want error %v", tt.in, err, tt.err)
			}
			if err != nil && !errors.Is(err, ErrBadDuration) {
				t.Errorf("error %v does not wrap ErrBadDuration", err)
			}
			if got.D() != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got.D(), tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Size
		err  bool
	}{
		{"512", 512, false},
		{"0", 0, false},
		{"64KB", 64 << 10, false},
		{"64k", 64 << 10, false},
		{"64KiB", 64 << 10, false},
		{"10MB", 10 << 20, false},
		{"10 mb", 10 << 20, false},
		{"1GiB", 1 << 30, false},
		{"2T", 2 << 40, false},
		{"1.5MB", 3 << 19, false},
		{"0.5K", 512, false},
		{"100B", 100, false},
		{"1.5", 0, true},
		{"1.5B", 0, true},
		{"1.2345MB", 0, true},
		{"-1KB", 0, true},
		{"KB", 0, true},
		{"10XB", 0, true},
		{"1..5MB", 0, true},
		{"1.MB", 0, true},
		{"9223372036854775807", math.MaxInt64, false},
		{"9223372036854775808", 0, true},
		{"8388608TB", 0, true},
		{"99999999999999999999", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("ParseSize(%q) error = %v, want error %v", tt.in, err, tt.err)
			}
			if err != nil && !errors.Is(err, ErrBadSize) {
				t.Errorf("error %v does not wrap ErrBadSize", err)
			}
			if got != tt.want {
				t.Errorf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestExpandEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOST": "db", "EMPTY": "", "PORT": "5432"}
	lookup := func(n string) (string, bool) { v, ok := env[n]; return v, ok }
	tests := []struct {
		in, want string
		errs     int
	}{
		{"plain", "plain", 0},
		{"${HOST}:${PORT}", "db:5432", 0},
		{"a${EMPTY}b", "ab", 0},
		{"$${HOST}", "${HOST}", 0},
		{"$$${HOST}", "$${HOST}", 0}, // "$" then the escape "$${"
		{"cost $5 and $HOST", "cost $5 and $HOST", 0},
		{"${MISSING}", "", 1},
		{"${1X}", "", 1},
		{"${}", "", 1},
		{"${HOST", "", 1},
		{"${A} ${B}", "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, errs := expandEnv(tt.in, lookup)
			if len(errs) != tt.errs {
				t.Fatalf("expandEnv(%q) errors = %v, want %d", tt.in, errs, tt.errs)
			}
			if tt.errs == 0 && got != tt.want {
				t.Errorf("expandEnv(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30s", "1m30s", "0", "30", "-1s", "1.5h", "9999999999h", "1e3s", ".5s", "1µs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if !errors.Is(err, ErrBadDuration) {
				t.Fatalf("error %v does not wrap ErrBadDuration", err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		// Oracle: the same value as the standard library.
		if want, err := time.ParseDuration(strings.TrimSpace(s)); err == nil && Duration(want) != d {
			t.Fatalf("ParseDuration(%q) = %v, time.ParseDuration = %v", s, d, want)
		}
		// Round trip through String.
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("round trip of %q: %q → %v, %v", s, d.String(), back, err)
		}
	})
}

var sizeOracleRE = regexp.MustCompile(`^([0-9]+)(?:\.([0-9]{1,3}))?\s*([a-zA-Z]*)$`)

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"512", "64KB", "1.5MB", "1GiB", "-1", "1.2345K", "18446744073709551615", "8EB", " 10 mb "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if !errors.Is(err, ErrBadSize) {
				t.Fatalf("error %v does not wrap ErrBadSize", err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative", s, n)
		}
		// Oracle: exact arithmetic with math/big.
		m := sizeOracleRE.FindStringSubmatch(strings.TrimSpace(s))
		if m == nil {
			t.Fatalf("ParseSize accepted %q, which the oracle grammar refuses", s)
		}
		mult, ok := sizeUnits[strings.ToLower(m[3])]
		if !ok {
			t.Fatalf("ParseSize accepted unit %q", m[3])
		}
		frac := m[2] + strings.Repeat("0", 3-len(m[2]))
		num, _ := new(big.Int).SetString(m[1]+frac, 10)
		want := num.Mul(num, big.NewInt(int64(mult)))
		want.Quo(want, big.NewInt(1000))
		if !want.IsInt64() || want.Int64() != int64(n) {
			t.Fatalf("ParseSize(%q) = %d, oracle %s", s, n, want)
		}
		back, err := ParseSize(n.String())
		if err != nil || back != n {
			t.Fatalf("round trip of %q: %q → %d, %v", s, n.String(), back, err)
		}
	})
}

var envOracleRE = regexp.MustCompile(`\$\$\{|\$\{([^}]*)\}`)

func FuzzExpandEnv(f *testing.F) {
	for _, s := range []string{"${A}", "$${A}", "$$${A}", "${", "a${B}c${A}", "${1}", "$", "${A}}", "${${A}}"} {
		f.Add(s)
	}
	lookup := func(n string) (string, bool) {
		if n == "A" || n == "B_1" {
			return "<" + n + ">", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Round trip: escaping then expanding gives the text back, with no
		// lookup at all.
		back, errs := expandEnv(escapeEnv(s), func(string) (string, bool) {
			t.Fatalf("escaped text %q looked a variable up", escapeEnv(s))
			return "", false
		})
		if len(errs) != 0 || back != s {
			t.Fatalf("expandEnv(escapeEnv(%q)) = %q, %v", s, back, errs)
		}
		// Oracle: a regexp implementation of the same grammar.
		got, errs := expandEnv(s, lookup)
		for _, e := range errs {
			if e.Off < 0 || e.Off >= len(s) || !strings.HasPrefix(s[e.Off:], "${") {
				t.Fatalf("error offset %d in %q does not point at \"${\"", e.Off, s)
			}
		}
		if len(errs) > 0 {
			return
		}
		want := envOracleRE.ReplaceAllStringFunc(s, func(m string) string {
			if m == "$${" {
				return "${"
			}
			v, _ := lookup(m[2 : len(m)-1])
			return v
		})
		if got != want {
			t.Fatalf("expandEnv(%q) = %q, oracle %q", s, got, want)
		}
	})
}
