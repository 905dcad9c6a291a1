package compress

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownEncoding is wrapped by ParseEncoding for a name that is not a
// content coding this package produces.
var ErrUnknownEncoding = errors.New("unknown content coding")

// Encoding is a content coding (RFC 9110 section 8.4.1). The zero value is
// Identity (no coding).
type Encoding uint8

// The codings Gatehouse produces. Their String values are the registered
// content-coding tokens (IANA HTTP Content Coding Registry).
const (
	Identity Encoding = iota
	Gzip              // "gzip", RFC 9110 section 8.4.1.3
	Zstd              // "zstd", RFC 8878 section 7.2
	Brotli            // "br", RFC 7932 section 13

	numEncodings
)

// String returns the coding's token as sent in Content-Encoding.
func (e Encoding) String() string {
	switch e {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	case Brotli:
		return "br"
	default:
		return "identity"
	}
}

// Ext returns the file-name suffix of a pre-compressed file in this coding
// (".gz", ".zst", ".br"), or "" for Identity.
func (e Encoding) Ext() string {
	switch e {
	case Gzip:
		return ".gz"
	case Zstd:
		return ".zst"
	case Brotli:
		return ".br"
	default:
		return ""
	}
}

// ParseEncoding maps a configuration name to an Encoding: "br" (or
// "brotli"), "zstd", "gzip"; case-insensitive. "identity" and anything else
// is an error wrapping ErrUnknownEncoding: configuration lists the codings
// to produce, and identity is always possible.
func ParseEncoding(name string) (Encoding, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "br", "brotli":
		return Brotli, nil
	case "zstd":
		return Zstd, nil
	case "gzip":
		return Gzip, nil
	}
	return Identity, fmt.Errorf("%w %q (use br, zstd or gzip)", ErrUnknownEncoding, name)
}

// ParseEncodings parses a preference list with ParseEncoding and rejects
// duplicates.
func ParseEncodings(names []string) ([]Encoding, error) {
	out := make([]Encoding, 0, len(names))
	for _, n := range names {
		e, err := ParseEncoding(n)
		if err != nil {
			return nil, err
		}
		for _, have := range out {
			if have == e {
				return nil, fmt.Errorf("%s listed twice", e)
			}
		}
		out = append(out, e)
	}
	return out, nil
}
