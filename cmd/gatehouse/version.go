package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/gatehouse-proxy/gatehouse/internal/pollorder"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the VCS revision recorded by the Go toolchain is shown.
var version = ""

func versionString() string {
	v := version
	if v == "" {
		v = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v = "dev-" + s.Value[:12]
				}
			}
		}
	}
	// The poller's wake order tells whether the binary was built the way
	// `make build` does it (internal/pollorder).
	return fmt.Sprintf("gatehouse %s (%s %s/%s, %s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH, pollorder.String())
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "", stderr)
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	fmt.Fprintln(stdout, versionString())
	return exitOK
}
