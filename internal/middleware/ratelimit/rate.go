package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadRate is wrapped by every ParseRate error.
var ErrBadRate = errors.New("invalid rate")

// MaxRateCount bounds the count of a rate: beyond a billion requests per
// unit the emission interval is below a nanosecond for "/s".
const MaxRateCount = 1_000_000_000

// Rate is Count requests per Per.
type Rate struct {
	Count int64
	Per   time.Duration
}

// rateUnits are the accepted units, each one letter.
var rateUnits = map[string]time.Duration{
	"s": time.Second,
	"m": time.Minute,
	"h": time.Hour,
	"d": 24 * time.Hour,
}

// ParseRate reads "COUNT/UNIT": COUNT a decimal integer from 1 to
// MaxRateCount without sign, spaces or leading zeros, UNIT one of s, m, h,
// d ("100/s", "1000/m", "10/h"). Anything else is an error wrapping
// ErrBadRate; the strictness keeps "10/5m" or "1e3/s" from being misread.
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("%w %q: write COUNT/UNIT, e.g. 100/s, 1000/m, 10/h", ErrBadRate, s)
	}
	per, ok := rateUnits[unit]
	if !ok {
		return Rate{}, fmt.Errorf("%w %q: the unit after / must be s, m, h or d", ErrBadRate, s)
	}
	if num == "" || len(num) > 10 || (num[0] == '0') {
		return Rate{}, fmt.Errorf("%w %q: the count must be a whole number from 1 to %d", ErrBadRate, s, MaxRateCount)
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return Rate{}, fmt.Errorf("%w %q: the count must be a whole number from 1 to %d", ErrBadRate, s, MaxRateCount)
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > MaxRateCount {
		return Rate{}, fmt.Errorf("%w %q: the count must be a whole number from 1 to %d", ErrBadRate, s, MaxRateCount)
	}
	return Rate{Count: n, Per: per}, nil
}

// String is the canonical "COUNT/UNIT" form; ParseRate(r.String()) == r.
func (r Rate) String() string {
	u := "?"
	for name, d := range rateUnits {
		if d == r.Per {
			u = name
		}
	}
	return strconv.FormatInt(r.Count, 10) + "/" + u
}

// Interval is the emission interval: the time one request's allowance
// takes to come back (Per / Count), at least 1ns.
func (r Rate) Interval() time.Duration {
	return max(r.Per/time.Duration(r.Count), time.Nanosecond)
}
