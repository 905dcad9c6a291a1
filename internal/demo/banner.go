package demo

import (
	"fmt"
	"net"
	"strings"
)

// link is one URL the demo invites the user to open.
type link struct {
	Title string // what it shows
	URL   string // full URL on the Gatehouse listener
	Note  string // one short line; may be empty
}

// tryLine is one command the demo invites the user to run.
type tryLine struct {
	Title string
	Cmd   string
}

// baseURL returns "http://host:port" for the Gatehouse listen address, as a
// client on this machine would type it: an unspecified or empty host (":8080",
// "0.0.0.0:8080", "[::]:8080") becomes 127.0.0.1. An address that is not
// host:port is used as it is.
func baseURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// portSuffix returns the ":port" suffix of listen for the demo.localhost
// URL: "" when listen has no port or it is 80.
func portSuffix(listen string) string {
	if _, port, err := net.SplitHostPort(listen); err == nil && port != "80" {
		return ":" + port
	}
	return ""
}

// links lists the URLs to open, in the order the banner and index page show
// them.
func links(listen string) []link {
	base := baseURL(listen)
	return []link{
		{"Index page", base + "/", "this list, served by a fixed-response route"},
		{"Load balancing", base + "/app/", "reload: app-1 and app-2 answer in turn"},
		{"Headers the app received", base + "/app/api/hello", "X-Forwarded-For, X-Request-ID, X-Demo-Client"},
		{"Routing by host", "http://demo.localhost" + portSuffix(listen) + "/", "always app-1; browsers resolve *.localhost to loopback"},
		{"WebSocket echo", base + "/ws/", "a page that echoes through Gatehouse"},
		{"Health", base + "/healthz", "a fixed 200 ok"},
	}
}

// tries lists the commands to run, in display order.
func tries(listen string) []tryLine {
	base := baseURL(listen)
	return []tryLine{
		{"Round robin and middleware headers (run it twice)", "curl -i " + base + "/app/api/hello"},
		{"Routing by host", "curl -H 'Host: demo.localhost' " + base + "/api/hello"},
		{"Streaming chat (one token every 150 ms)", "curl -N " + base +
			`/v1/chat/completions -d '{"stream":true,"messages":[{"role":"user","content":"hi"}]}'`},
		{"Faster stream", "curl -N '" + base +
			`/v1/chat/completions?delay_ms=20' -d '{"stream":true,"messages":[{"role":"user","content":"hi"}]}'`},
		{"Chat without streaming", "curl " + base +
			`/v1/chat/completions -d '{"messages":[{"role":"user","content":"hi"}]}'`},
		{"Embeddings", "curl " + base + `/v1/embeddings -d '{"model":"demo","input":["hello","world"]}'`},
		{"Health", "curl " + base + "/healthz"},
	}
}

// Banner returns the text `gatehouse demo` prints once it is serving: the
// URLs to open and the curl lines to try, all on the listen address (e.g.
// "127.0.0.1:8080"). It ends with a newline.
func Banner(listen string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Gatehouse demo is running on %s\n\nOpen:\n", baseURL(listen))
	for _, l := range links(listen) {
		fmt.Fprintf(&b, "  %-26s %s\n", l.Title, l.URL)
		if l.Note != "" {
			fmt.Fprintf(&b, "  %-26s (%s)\n", "", l.Note)
		}
	}
	b.WriteString("\nTry:\n")
	for _, t := range tries(listen) {
		fmt.Fprintf(&b, "  # %s\n  %s\n", t.Title, t.Cmd)
	}
	b.WriteString("\nPress Ctrl-C to stop.\n")
	return b.String()
}
