package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// newLogger builds the error log from cfg.Log. The level is a LevelVar so a
// reload can change it; format and output are fixed at start.
func newLogger(c config.Log, stderr io.Writer) (*slog.Logger, *slog.LevelVar, error) {
	lv := new(slog.LevelVar)
	lv.Set(parseLevel(c.Level))
	var out io.Writer
	switch c.Output {
	case "", "stderr":
		out = stderr
	case "stdout":
		out = os.Stdout
	default:
		f, err := os.OpenFile(c.Output, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("open log output: %w", err)
		}
		out = f
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if strings.EqualFold(c.Format, "text") {
		h = slog.NewTextHandler(out, opts)
	} else {
		h = slog.NewJSONHandler(out, opts)
	}
	return slog.New(h), lv, nil
}

func parseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
