package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/demo"
	"github.com/gatehouse-proxy/gatehouse/internal/tlsconf"
)

// cmdDemo starts the embedded demo backends on loopback and Gatehouse in
// front of them with the embedded configuration (internal/demo/demo.yaml).
func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", "[--listen ADDR] [--https ADDR|off] [--data-dir DIR]", stderr)
	listenAddr := fs.String("listen", "127.0.0.1:8080", "address Gatehouse listens on")
	httpsAddr := fs.String("https", "127.0.0.1:8443", `address of the HTTPS listener (internal CA); "off" for none`)
	dataDir := fs.String("data-dir", "", "directory for the internal CA (default: the user's config directory + /gatehouse)")
	printConfig := fs.Bool("print-config", false, "print the demo's configuration and exit")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	// The demo's pages and banner name the address; with port 0 pick a
	// free port first so they name the real one.
	addr, err := concreteAddr(*listenAddr)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse demo: --listen %q: %v\n", *listenAddr, err)
		return exitUsage
	}
	*listenAddr = addr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	backends, err := demo.Start(ctx, slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse demo: start backends: %v\n", err)
		return exitError
	}
	defer backends.Close()
	https := demoHTTPS(*httpsAddr, *dataDir, *printConfig, stderr)
	yaml := demo.ConfigHTTPS(backends, *listenAddr, https)
	if *printConfig {
		_, _ = stdout.Write(yaml)
		return exitOK
	}
	cfg, err := config.Parse(yaml, "demo.yaml")
	if err != nil {
		printErr(stderr, err)
		return exitError
	}
	fmt.Fprint(stdout, demo.BannerHTTPS(*listenAddr, https))
	return serve(ctx, cfg, nil, "", stderr)
}

// concreteAddr returns addr, with port 0 replaced by a port that is free
// now (the OS picks it; a race with another process taking it before
// Gatehouse binds is possible but harmless for a demo).
func concreteAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// demoHTTPS prepares the demo's HTTPS listener: the internal CA under the
// data directory (created on first use, no root needed) and a free address.
// Whatever stands in the way (no home directory, port taken) is reported
// and the demo goes on over plain HTTP only: the demo must start on any
// machine. With dryRun (--print-config) nothing is created or bound.
func demoHTTPS(addr, dataDir string, dryRun bool, stderr io.Writer) demo.HTTPS {
	if addr == "" || addr == "off" {
		return demo.HTTPS{}
	}
	if dataDir == "" {
		d, err := tlsconf.DefaultDataDir()
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse demo: no HTTPS (%v); pass --data-dir DIR\n", err)
			return demo.HTTPS{}
		}
		dataDir = d
	}
	h := demo.HTTPS{Address: addr, CADir: filepath.Join(dataDir, "ca")}
	if dryRun {
		return h
	}
	if _, err := tlsconf.EnsureCA(h.CADir); err != nil {
		fmt.Fprintf(stderr, "gatehouse demo: no HTTPS: %v\n", err)
		return demo.HTTPS{}
	}
	a, err := concreteAddr(addr)
	if err == nil {
		var ln net.Listener
		if ln, err = net.Listen("tcp", a); err == nil {
			_ = ln.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse demo: no HTTPS on %s (%v); choose another with --https ADDR\n", addr, err)
		return demo.HTTPS{}
	}
	h.Address = a
	return h
}
