package compress

import (
	"errors"
	"fmt"
	"strings"
)

// ErrOptions is wrapped by New for every invalid option.
var ErrOptions = errors.New("invalid compression options")

// MaxMinSize bounds Options.MinSize: it is also the most a response is
// buffered while deciding, per request.
const MaxMinSize = 1 << 20

// DefaultMinSize is the default Options.MinSize: below about 1 KiB the
// coding's framing and the CPU cost outweigh the bytes saved.
const DefaultMinSize = 1024

// DefaultEncodings is the default server preference, measured on 100 KB of
// JSON at the default levels (docs/compression.md): zstd is the cheapest
// per MB and compresses about as well as gzip, brotli at level 4 gives the
// smallest output at a little more CPU than zstd, gzip is the universal
// fallback.
func DefaultEncodings() []Encoding { return []Encoding{Zstd, Brotli, Gzip} }

// DefaultTypes is the default list of compressible media types: text,
// structured text (JSON, XML and their +json/+xml types), scripts, SVG,
// WebAssembly and uncompressed font formats. Already-compressed formats
// (images other than SVG/BMP/ICO, video, woff2, archives) gain nothing.
func DefaultTypes() []string {
	return []string{
		"text/*",
		"application/json", "application/*+json", "application/x-ndjson",
		"application/javascript", "application/x-javascript", "application/ecmascript",
		"application/xml", "application/*+xml",
		"application/wasm",
		"image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon", "image/bmp",
		"font/ttf", "font/otf", "application/vnd.ms-fontobject",
	}
}

// Level names mapped to each coding's level, chosen by measurement
// (docs/compression.md): "default" is the knee of each library's
// speed/ratio curve for on-the-fly compression, not its nominal default
// (brotli's 11 costs ~50x more CPU than 4 for a few percent).
var levelNames = map[string][numEncodings]int{
	"fastest": {Gzip: 1, Zstd: 1, Brotli: 0},
	"default": {Gzip: 5, Zstd: 3, Brotli: 4},
	"better":  {Gzip: 7, Zstd: 7, Brotli: 6},
	"best":    {Gzip: 9, Zstd: 19, Brotli: 11},
}

// LevelFor returns the numeric level a level name ("fastest", "default",
// "better", "best"; "" means "default") stands for in coding e.
func LevelFor(name string, e Encoding) (int, error) {
	if name == "" {
		name = "default"
	}
	lv, ok := levelNames[strings.ToLower(name)]
	if !ok || e == Identity || e >= numEncodings {
		return 0, fmt.Errorf("%w: level %q (use fastest, default, better or best)", ErrOptions, name)
	}
	return lv[e], nil
}

// Options configure a Compressor. Use DefaultOptions and change fields.
type Options struct {
	// Encodings produced, in server preference order (ties in the
	// client's weights go to the earlier one). At least one.
	Encodings []Encoding
	// Level names the level of every coding: "fastest", "default",
	// "better", "best". Default "default".
	Level string
	// Levels overrides the level of single codings with a library level:
	// gzip 1–9, zstd 1–22, br 0–11.
	Levels map[Encoding]int
	// MinSize is the smallest body compressed, in bytes (0..MaxMinSize).
	// A body of unknown length is held back until this many bytes have
	// arrived (or the handler flushes or ends), so it is also the
	// per-response buffer bound.
	MinSize int
	// Types are the compressible media types: exact ("application/json")
	// or with one '*' ("text/*", "application/*+json"); case-insensitive,
	// parameters ignored. An empty list means DefaultTypes.
	Types []string
	// SSE compresses text/event-stream responses (flushing the encoder on
	// every upstream flush, so each event leaves at once). Default false:
	// see docs/compression.md for the measurement behind the default.
	SSE bool
	// MaxStreams bounds the responses this Compressor codes at once (0:
	// no bound). Each holds an encoder (~0.5–2.6 MB, docs/compression.md)
	// for as long as it lasts; past the bound a response goes out
	// uncompressed, so memory stays bounded when many long responses
	// (streams, slow clients) are open. Default DefaultMaxStreams.
	MaxStreams int
}

// DefaultMaxStreams bounds a route's open encoders to ~0.7 GB at the
// largest per-stream figure (zstd, 2.6 MB).
const DefaultMaxStreams = 256

// DefaultOptions returns the defaults: DefaultEncodings, level "default",
// DefaultMinSize, DefaultTypes, SSE off, DefaultMaxStreams.
func DefaultOptions() Options {
	return Options{Encodings: DefaultEncodings(), Level: "default", MinSize: DefaultMinSize, Types: DefaultTypes(), MaxStreams: DefaultMaxStreams}
}

// typePattern is a compiled media-type pattern: prefix '*' suffix, or an
// exact type when !wild.
type typePattern struct {
	prefix, suffix string
	wild           bool
}

func compileType(p string) (typePattern, error) {
	p = strings.ToLower(strings.TrimSpace(p))
	slash := strings.IndexByte(p, '/')
	if p == "" || slash <= 0 || slash == len(p)-1 || strings.ContainsAny(p, " \t;,") {
		return typePattern{}, fmt.Errorf("%w: type %q is not a media type like text/html or text/*", ErrOptions, p)
	}
	if strings.Count(p, "*") > 1 {
		return typePattern{}, fmt.Errorf("%w: type %q has more than one '*'", ErrOptions, p)
	}
	if i := strings.IndexByte(p, '*'); i >= 0 {
		return typePattern{prefix: p[:i], suffix: p[i+1:], wild: true}, nil
	}
	return typePattern{prefix: p}, nil
}

// match reports whether mt (lower-case "type/subtype") matches.
func (tp *typePattern) match(mt string) bool {
	if !tp.wild {
		return mt == tp.prefix
	}
	return len(mt) >= len(tp.prefix)+len(tp.suffix) && strings.HasPrefix(mt, tp.prefix) && strings.HasSuffix(mt, tp.suffix)
}

// mediaType returns the lower-case "type/subtype" of a Content-Type value
// (RFC 9110 section 8.3.1: parameters follow ';'; type and subtype are
// case-insensitive). It allocates only when the value has upper case.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = trimOWS(ct)
	for i := 0; i < len(ct); i++ {
		if 'A' <= ct[i] && ct[i] <= 'Z' {
			return strings.ToLower(ct)
		}
	}
	return ct
}
