package protocol

import "testing"

func TestMethods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method                 string
		safe, idempotent, refd bool
	}{
		{"GET", true, true, false},
		{"HEAD", true, true, false},
		{"OPTIONS", true, true, false},
		{"TRACE", true, true, true},
		{"PUT", false, true, false},
		{"DELETE", false, true, false},
		{"POST", false, false, false},
		{"PATCH", false, false, false},
		{"CONNECT", false, false, true},
		{"get", false, false, false},
		{"connect", false, false, false},
		{"PROPFIND", false, false, false},
		{"", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			if got := IsSafe(tt.method); got != tt.safe {
				t.Errorf("IsSafe = %v, want %v", got, tt.safe)
			}
			if got := IsIdempotent(tt.method); got != tt.idempotent {
				t.Errorf("IsIdempotent = %v, want %v", got, tt.idempotent)
			}
			if got := RefusedByDefault(tt.method); got != tt.refd {
				t.Errorf("RefusedByDefault = %v, want %v", got, tt.refd)
			}
		})
	}
}
