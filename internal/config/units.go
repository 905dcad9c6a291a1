package config

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors of ParseDuration and ParseSize, for errors.Is.
var (
	// ErrBadDuration: the text is not a duration ("30s", "1m30s").
	ErrBadDuration = errors.New("invalid duration")
	// ErrBadSize: the text is not a size ("512", "64KB", "1.5MB").
	ErrBadSize = errors.New("invalid size")
)

// Hints shown with duration and size errors (also used by the decoder).
const (
	durationHint = `write durations as "30s", "5m" or "1h30m"; units are ns, us, ms, s, m, h`
	sizeHint     = `write sizes in bytes (512) or with a unit: "64KB", "10MB", "1.5GB"; K, KB and KiB all mean 1024`
)

// ParseDuration parses a non-negative duration written as Go does
// ("300ms", "30s", "1m30s", "2h"). A bare number is refused (is "30" seconds
// or milliseconds?) except "0". Errors wrap ErrBadDuration.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("%w: empty", ErrBadDuration)
	}
	if _, err := strconv.ParseFloat(t, 64); err == nil && t != "0" {
		return 0, fmt.Errorf("%w: %q has no unit (write %q for seconds)", ErrBadDuration, t, t+"s")
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("%w: %q is negative", ErrBadDuration, t)
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		// time's message quotes Go syntax; say it plainly instead.
		if strings.Contains(err.Error(), "overflow") {
			return 0, fmt.Errorf("%w: %q is too long (the maximum is about 292 years)", ErrBadDuration, t)
		}
		return 0, fmt.Errorf("%w: %q is not a duration", ErrBadDuration, t)
	}
	if d < 0 {
		return 0, fmt.Errorf("%w: %q is negative", ErrBadDuration, t)
	}
	return Duration(d), nil
}

// String renders d the way ParseDuration reads it ("1m30s", "0s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText renders d as a string, so JSON and YAML output round-trips.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses text with ParseDuration (flags, JSON).
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Size units. K, KB and KiB are the same (1024), as in nginx.
const (
	KiB Size = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
)

var sizeUnits = map[string]Size{
	"": 1, "b": 1,
	"k": KiB, "kb": KiB, "kib": KiB,
	"m": MiB, "mb": MiB, "mib": MiB,
	"g": GiB, "gb": GiB, "gib": GiB,
	"t": TiB, "tb": TiB, "tib": TiB,
}

// ParseSize parses a non-negative byte count: a whole number of bytes
// ("512"), or a number with a unit B, K/KB/KiB, M/MB/MiB, G/GB/GiB or
// T/TB/TiB (case-insensitive, all powers of 1024). A fraction of up to three
// digits is allowed with a unit ("1.5MB"); the result is rounded down to a
// whole byte. Errors wrap ErrBadSize.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("%w: %q is negative", ErrBadSize, t)
	}
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("%w: %q is not a size", ErrBadSize, t)
	}
	whole, frac, hasDot := strings.Cut(num, ".")
	if whole == "" || strings.Contains(frac, ".") || (hasDot && frac == "") {
		return 0, fmt.Errorf("%w: %q is not a size", ErrBadSize, t)
	}
	if len(frac) > 3 {
		return 0, fmt.Errorf("%w: %q has more than three decimals", ErrBadSize, t)
	}
	if frac != "" && mult == 1 {
		return 0, fmt.Errorf("%w: %q is not a whole number of bytes", ErrBadSize, t)
	}
	w, err := strconv.ParseUint(whole, 10, 64)
	tooBig := fmt.Errorf("%w: %q is too large", ErrBadSize, t)
	if err != nil {
		return 0, tooBig
	}
	if frac == "" {
		hi, lo := bits.Mul64(w, uint64(mult))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, tooBig
		}
		return Size(lo), nil
	}
	// Work in thousandths so "1.5MB" is exact: n = whole*1000 + frac.
	f, _ := strconv.ParseUint(frac+strings.Repeat("0", 3-len(frac)), 10, 64)
	hi, lo := bits.Mul64(w, 1000)
	lo, carry := bits.Add64(lo, f, 0)
	if hi != 0 || carry != 0 {
		return 0, tooBig
	}
	hi, lo = bits.Mul64(lo, uint64(mult))
	if hi >= 1000 {
		return 0, tooBig
	}
	q, _ := bits.Div64(hi, lo, 1000)
	if q > math.MaxInt64 {
		return 0, tooBig
	}
	return Size(q), nil
}

// String renders s with the largest unit that divides it exactly ("64KiB",
// "10MiB", "1000"), which ParseSize reads back to the same value.
func (s Size) String() string {
	for _, u := range []struct {
		n    Size
		name string
	}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if s != 0 && s%u.n == 0 {
			return strconv.FormatInt(int64(s/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// Int64 returns the number of bytes.
func (s Size) Int64() int64 { return int64(s) }

// MarshalText renders s as a string, so JSON and YAML output round-trips.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses text with ParseSize (flags, JSON).
func (s *Size) UnmarshalText(text []byte) error {
	v, err := ParseSize(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
