package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// cmdExplain prints which route a request would take and why, its chain and
// upstream; it sends nothing.
func cmdExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("explain", "[-c FILE] [-H 'Name: value' ...] METHOD URL", stderr)
	file := fs.String("c", "gatehouse.yaml", "configuration file")
	var headers multiFlag
	fs.Var(&headers, "H", "request header 'Name: value' (repeatable)")
	pos, code, ok := parseInterleaved(fs, args, stdout)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		fs.Usage()
		return exitUsage
	}
	method, raw := strings.ToUpper(pos[0]), pos[1]
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		fmt.Fprintf(stderr, "gatehouse explain: %q is not an absolute URL (write http://host/path)\n", raw)
		return exitUsage
	}
	h := http.Header{}
	for _, hv := range headers {
		name, value, ok := strings.Cut(hv, ":")
		if !ok {
			fmt.Fprintf(stderr, "gatehouse explain: header %q must be 'Name: value'\n", hv)
			return exitUsage
		}
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	rt, code := compileDry(*file, stderr)
	if rt == nil {
		return code
	}
	fmt.Fprint(stdout, rt.Explain(method, u, h))
	return exitOK
}
