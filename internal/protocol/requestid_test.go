package protocol

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

func TestRequestIDGenerator(t *testing.T) {
	t.Parallel()
	seed := bytes.Repeat([]byte{0xab}, 16)
	g1, err := NewRequestIDGenerator(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	g2, err := NewRequestIDGenerator(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	// Deterministic under an injected seed.
	for range 3 {
		if a, b := g1.Next(), g2.Next(); a != b {
			t.Fatalf("same seed, different IDs %q %q", a, b)
		}
	}
	other, err := NewRequestIDGenerator(bytes.NewReader(bytes.Repeat([]byte{0xac}, 16)))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := g1.Next(), other.Next(); a[:13] == b[:13] {
		t.Errorf("different seeds share the instance prefix: %q %q", a, b)
	}
}

func TestRequestIDGeneratorSeedError(t *testing.T) {
	t.Parallel()
	_, err := NewRequestIDGenerator(strings.NewReader("short"))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want wrapped io.ErrUnexpectedEOF", err)
	}
}

func TestNewRequestIDUniqueConcurrent(t *testing.T) {
	t.Parallel()
	const workers, each = 4, 5000
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				ids[w] = append(ids[w], NewRequestID())
			}
		})
	}
	wg.Wait()
	seen := make(map[string]bool, workers*each)
	for _, list := range ids {
		for _, id := range list {
			if seen[id] {
				t.Fatalf("duplicate ID %q", id)
			}
			seen[id] = true
			if len(id) != RequestIDLen || !ValidRequestID(id) {
				t.Fatalf("bad ID %q", id)
			}
		}
	}
}

func TestMix64Bijective(t *testing.T) {
	t.Parallel()
	// Spot check: distinct inputs near each other give distinct outputs.
	seen := map[uint64]bool{}
	for i := range uint64(1 << 16) {
		v := mix64(i)
		if seen[v] {
			t.Fatalf("collision at %d", i)
		}
		seen[v] = true
	}
}

func TestValidRequestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"generated", NewRequestID(), true},
		{"uuid", "3f2b9c1e-8d4a-4b6f-9e2a-1c5d7e8f9a0b", true},
		{"all classes", "Az09._:-", true},
		{"one char", "x", true},
		{"max length", strings.Repeat("a", 128), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"space", "a b", false},
		{"crlf", "a\r\nX-Evil: 1", false},
		{"quote", `a"b`, false},
		{"equals", "a=b", false},
		{"slash", "a/b", false},
		{"non-ascii", "ä", false},
		{"nul", "a\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ValidRequestID(tt.id); got != tt.want {
				t.Errorf("ValidRequestID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func FuzzValidRequestID(f *testing.F) {
	f.Add("abc-123")
	f.Add("a\nb")
	f.Add(strings.Repeat("z", 130))
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidRequestID(s) {
			return
		}
		if len(s) == 0 || len(s) > MaxRequestIDLen || strings.ContainsFunc(s, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r))
		}) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func BenchmarkNewRequestID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NewRequestID()
	}
}

func BenchmarkNewRequestIDParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			NewRequestID()
		}
	})
}

func BenchmarkValidRequestID(b *testing.B) {
	id := "3f2b9c1e-8d4a-4b6f-9e2a-1c5d7e8f9a0b"
	b.ReportAllocs()
	for b.Loop() {
		ValidRequestID(id)
	}
}
