package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", "[-c FILE]", stderr)
	file := fs.String("c", "gatehouse.yaml", "configuration file")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	cfg, err := config.Load(*file)
	if err != nil {
		printErr(stderr, err)
		return exitError
	}
	load := func() (*config.Config, error) { return config.Load(*file) }
	return serve(context.Background(), cfg, load, *file, stderr)
}

// printErr prints a configuration error list one problem per line
// (FILE:LINE:COL: message (hint: ...)), or any other error as one line.
func printErr(w io.Writer, err error) {
	var list config.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, e.Error())
		}
		return
	}
	fmt.Fprintf(w, "gatehouse: %v\n", err)
}
