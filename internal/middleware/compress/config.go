package compress

import (
	"fmt"
	"strings"

	gcompress "github.com/gatehouse-proxy/gatehouse/internal/compress"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Config is the middleware's settings (docs/compression.md).
type Config struct {
	// Encodings produced, in server preference order. Default
	// compress.DefaultEncodings.
	Encodings config.StringList `yaml:"encodings"`
	// MinSize is the smallest body compressed. Default 1KB; at most 1MB.
	MinSize *config.Size `yaml:"min_size"`
	// Types are the compressible media types ("text/*",
	// "application/json"). Default compress.DefaultTypes. Replaces the
	// default list.
	Types config.StringList `yaml:"types"`
	// Level is fastest, default, better or best. Default "default".
	Level string `yaml:"level"`
	// Levels sets library levels per coding: gzip 1–9, zstd 1–22, br 0–11.
	Levels map[string]int `yaml:"levels"`
	// SSE compresses text/event-stream: on/off (true/false). Default off.
	SSE *onOff `yaml:"sse"`
	// MaxStreams bounds the responses the route compresses at once; past
	// it responses go out uncompressed. 0 = no bound. Default
	// compress.DefaultMaxStreams (256).
	MaxStreams *int `yaml:"max_streams"`
}

// onOff is a boolean written on/off, true/false or yes/no.
type onOff bool

// UnmarshalText accepts on/off, true/false, yes/no.
func (b *onOff) UnmarshalText(text []byte) error {
	switch strings.ToLower(string(text)) {
	case "on", "true", "yes":
		*b = true
	case "off", "false", "no":
		*b = false
	default:
		return fmt.Errorf("%q is not on or off", text)
	}
	return nil
}

// options turns the settings into compress.Options.
func (cfg Config) options() (gcompress.Options, error) {
	o := gcompress.DefaultOptions()
	if len(cfg.Encodings) > 0 {
		encs, err := gcompress.ParseEncodings(cfg.Encodings)
		if err != nil {
			return o, fmt.Errorf("encodings: %w", err)
		}
		o.Encodings = encs
	}
	if cfg.MinSize != nil {
		if *cfg.MinSize > gcompress.MaxMinSize {
			return o, fmt.Errorf("min_size: at most 1MB (it is also the most held back per response)")
		}
		o.MinSize = int(*cfg.MinSize)
	}
	if len(cfg.Types) > 0 {
		o.Types = cfg.Types
	}
	if cfg.Level != "" {
		o.Level = cfg.Level
	}
	if len(cfg.Levels) > 0 {
		o.Levels = map[gcompress.Encoding]int{}
		for name, l := range cfg.Levels {
			e, err := gcompress.ParseEncoding(name)
			if err != nil {
				return o, fmt.Errorf("levels: %w", err)
			}
			o.Levels[e] = l
		}
	}
	if cfg.SSE != nil {
		o.SSE = bool(*cfg.SSE)
	}
	if cfg.MaxStreams != nil {
		if *cfg.MaxStreams < 0 {
			return o, fmt.Errorf("max_streams: %d is negative (0 means no bound)", *cfg.MaxStreams)
		}
		o.MaxStreams = *cfg.MaxStreams
	}
	return o, nil
}
