package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/runtime"
)

// cmdValidate loads and compiles a configuration without serving: the same
// checks a reload makes, plus warnings about routes that can never match.
func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", "[-c FILE]", stderr)
	file := fs.String("c", "gatehouse.yaml", "configuration file")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	rt, code := compileDry(*file, stderr)
	if rt == nil {
		return code
	}
	for _, w := range rt.Warnings() {
		fmt.Fprintln(stderr, "warning: "+w.Error())
	}
	cfg := rt.Config()
	fmt.Fprintf(stdout, "%s: ok (%d listeners, %d routes, %d upstreams)\n", *file, len(cfg.Listeners), len(cfg.Routes), len(cfg.Upstreams))
	return exitOK
}

// compileDry loads file and builds a Runtime that opens nothing.
func compileDry(file string, stderr io.Writer) (*runtime.Runtime, int) {
	cfg, err := config.Load(file)
	if err != nil {
		printErr(stderr, err)
		return nil, exitError
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	rt, err := runtime.Build(cfg, nil, runtime.Options{Logger: logger, DryRun: true})
	if err != nil {
		printErr(stderr, err)
		return nil, exitError
	}
	return rt, exitOK
}
