package demo

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"text/template"
)

// demoYAML is the Gatehouse configuration of the demo, a text/template
// filled in by Config.
//
//go:embed demo.yaml
var demoYAML string

// configTemplate is parsed once; the template is a constant of the package.
var configTemplate = template.Must(template.New("demo.yaml").Funcs(template.FuncMap{
	"q":  yamlQuote,
	"h":  htmlText,
	"ha": htmlAttr,
}).Parse(demoYAML))

// configData is what demo.yaml is filled in with.
type configData struct {
	Listen, Base                            string
	HTTPS                                   HTTPS
	App1, App2, Chat, Embeddings, WebSocket string
	Links                                   []link
	Tries                                   []tryLine
}

// Config returns the demo's Gatehouse configuration (YAML) with a listener
// on listen (e.g. "127.0.0.1:8080") and upstreams on b's backends: a
// fixed-response index page at GET /, /app/* balanced round-robin over both
// apps with prefix stripping and header middleware, host demo.localhost to
// app-1, /v1/chat/* (long head timeout, no total), /v1/embeddings, /ws/*
// (WebSocket, prefix stripped) and /healthz. The result is meant for
// config.Parse; it does not validate it.
func Config(b *Backends, listen string) []byte {
	return ConfigHTTPS(b, listen, HTTPS{})
}

// HTTPS is the demo's HTTPS listener: Address (e.g. "127.0.0.1:8443"; ""
// for none) served with certificates from the internal CA kept in CADir.
type HTTPS struct {
	Address string
	CADir   string
}

// ConfigHTTPS is Config plus, when https.Address is set, a second listener
// serving the same routes over HTTPS through the internal CA in
// https.CADir.
func ConfigHTTPS(b *Backends, listen string, https HTTPS) []byte {
	data := configData{
		Listen:     listen,
		HTTPS:      https,
		Base:       baseURL(listen),
		App1:       b.App1,
		App2:       b.App2,
		Chat:       b.Chat,
		Embeddings: b.Embeddings,
		WebSocket:  b.WebSocket,
		Links:      append(links(listen), httpsLinks(https)...),
		Tries:      append(tries(listen), httpsTries(https)...),
	}
	var out bytes.Buffer
	// Executing can fail only on a writer error, and bytes.Buffer has none,
	// or on a template bug, which the package tests catch.
	_ = configTemplate.Execute(&out, data)
	return out.Bytes()
}

// yamlQuote renders s as a double-quoted YAML scalar (YAML 1.2 section
// 7.3.1) in plain ASCII: printable ASCII stays, '"' and '\\' are escaped and
// every other rune becomes \uXXXX or \UXXXXXXXX, so no value can end the
// scalar or the line. Invalid UTF-8 becomes U+FFFD.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			fmt.Fprintf(&b, "\\U%08x", r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// htmlText escapes s for HTML text inside the index page's literal block
// scalar: the HTML specials, plus every rune outside printable ASCII as a
// character reference, so that no value can break the block's indentation
// (line breaks) or hold a character YAML refuses.
func htmlText(s string) string { return htmlEscape(s, false) }

// htmlAttr is htmlText for a double-quoted attribute value.
func htmlAttr(s string) string { return htmlEscape(s, true) }

func htmlEscape(s string, attr bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"' && attr:
			b.WriteString("&#34;")
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "&#x%x;", r)
		}
	}
	return b.String()
}
