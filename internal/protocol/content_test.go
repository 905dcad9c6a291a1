package protocol

import (
	"errors"
	"io"
	"strings"
	"testing"
)

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestAppendContent(t *testing.T) {
	broken := errors.New("client reset the stream")
	for _, tc := range []struct {
		name string
		r    io.Reader
		n    int
		want string
		err  error
	}{
		{"exact", strings.NewReader("hello"), 5, "pre:hello", nil},
		{"empty body, length 0", strings.NewReader(""), 0, "pre:", nil},
		{"shorter", strings.NewReader("hel"), 5, "pre:", ErrContentLength},
		{"nothing at all", strings.NewReader(""), 5, "pre:", ErrContentLength},
		{"longer", strings.NewReader("hello!"), 5, "pre:", ErrContentLength},
		{"reader error", io.MultiReader(strings.NewReader("he"), iotestErr{broken}), 5, "pre:", broken},
		{"error after the body", io.MultiReader(strings.NewReader("hello"), iotestErr{broken}), 5, "pre:", broken},
		{"no progress after the body", io.MultiReader(strings.NewReader("hello"), stuckReader{}), 5, "pre:", io.ErrNoProgress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendContent([]byte("pre:"), tc.r, tc.n)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if string(got) != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }
