package runtime

import (
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/listen"
	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// accessSink is the access log with the output it owns. Its identity is the
// output, so a reload that keeps the output keeps the sink (and its file).
type accessSink struct {
	key  string
	log  *observe.AccessLog
	file *os.File // nil for stdout/stderr
}

func openAccessSink(c config.AccessLog, prev *Runtime) (*accessSink, error) {
	if c.Enabled != nil && !*c.Enabled {
		return nil, nil
	}
	key := c.Output
	if prev != nil && prev.access != nil && prev.access.key == key {
		return prev.access, nil
	}
	var out io.Writer
	var file *os.File
	switch key {
	case "", "stdout":
		out = os.Stdout
	case "stderr":
		out = os.Stderr
	default:
		f, err := os.OpenFile(key, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", key, err)
		}
		out, file = f, f
	}
	return &accessSink{key: key, log: observe.NewAccessLog(out), file: file}, nil
}

func (s *accessSink) write(e *observe.AccessEntry) { s.log.Log(e) }

func (s *accessSink) close() {
	_ = s.log.Close()
	if s.file != nil {
		_ = s.file.Close()
	}
}

// schemeOf tells how the client reached us. TLS listeners wrap connections
// (framing guard), so r.TLS may be nil on HTTP/1.1 over TLS: the listener
// marks its connections' context instead.
func schemeOf(r *http.Request) string {
	if r.TLS != nil || listen.IsTLS(r.Context()) {
		return "https"
	}
	return "http"
}
