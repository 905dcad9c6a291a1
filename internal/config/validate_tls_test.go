package config

import (
	"testing"
	"time"
)

func TestParseIssuanceRate(t *testing.T) {
	tests := []struct {
		in    string
		count int
		per   time.Duration
		ok    bool
	}{
		{"", 10, time.Minute, true},
		{"10/1m", 10, time.Minute, true},
		{" 3 / 1h ", 3, time.Hour, true},
		{"0/1m", 0, 0, false},
		{"-1/1m", 0, 0, false},
		{"10", 0, 0, false},
		{"10/0s", 0, 0, false},
		{"10/soon", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, per, err := ParseIssuanceRate(tt.in)
			if (err == nil) != tt.ok || n != tt.count || per != tt.per {
				t.Errorf("ParseIssuanceRate(%q) = %d, %v, %v", tt.in, n, per, err)
			}
		})
	}
}

func FuzzParseIssuanceRate(f *testing.F) {
	for _, s := range []string{"10/1m", "", "1/1ns", "x/y", "5/", "/1m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, per, err := ParseIssuanceRate(s)
		if err == nil && (n < 1 || per <= 0) {
			t.Fatalf("ParseIssuanceRate(%q) = %d, %v without error", s, n, per)
		}
	})
}
