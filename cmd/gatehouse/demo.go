package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/demo"
)

// cmdDemo starts the embedded demo backends on loopback and Gatehouse in
// front of them with the embedded configuration (internal/demo/demo.yaml).
func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", "[--listen ADDR]", stderr)
	listenAddr := fs.String("listen", "127.0.0.1:8080", "address Gatehouse listens on")
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
	yaml := demo.Config(backends, *listenAddr)
	if *printConfig {
		_, _ = stdout.Write(yaml)
		return exitOK
	}
	cfg, err := config.Parse(yaml, "demo.yaml")
	if err != nil {
		printErr(stderr, err)
		return exitError
	}
	fmt.Fprint(stdout, demo.Banner(*listenAddr))
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
