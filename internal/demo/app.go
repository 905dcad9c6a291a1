package demo

import (
	"html/template"
	"net/http"
	"strings"
)

// app is one instance of the demo web app. Two run side by side under the
// same upstream so that round-robin balancing shows in every answer.
//
//	GET /           an HTML page naming the instance
//	GET /api/hello  JSON naming the instance and echoing the request headers
//
// It is stateless and safe for concurrent use.
type app struct {
	instance string
}

func newApp(instance string) *app { return &app{instance: instance} }

// helloResponse is the /api/hello body.
type helloResponse struct {
	Instance string `json:"instance"`
	Method   string `json:"method"`
	Host     string `json:"host"`
	// Path is the path as this backend received it, i.e. after Gatehouse's
	// rewrite middleware stripped the route prefix.
	Path string `json:"path"`
	// Headers are the request headers as received, repeated values joined
	// with ", " (RFC 9110 section 5.3 makes that equivalent for list-valued
	// fields). Host is not a header in net/http, hence the field above.
	Headers map[string]string `json:"headers"`
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/", "":
		if !allowGet(w, r) {
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = appPage.Execute(w, appPageData{Instance: a.instance, Path: r.URL.Path, Host: r.Host})
	case "/api/hello":
		if !allowGet(w, r) {
			return
		}
		headers := make(map[string]string, len(r.Header))
		for name, values := range r.Header {
			headers[name] = strings.Join(values, ", ")
		}
		writeJSON(w, http.StatusOK, helloResponse{
			Instance: a.instance,
			Method:   r.Method,
			Host:     r.Host,
			Path:     r.URL.Path,
			Headers:  headers,
		})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{
			"instance": a.instance,
			"error":    "not found: try / or /api/hello",
		})
	}
}

// allowGet answers 405 with Allow (RFC 9110 section 15.5.6) unless the
// method is GET or HEAD.
func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

type appPageData struct {
	Instance, Path, Host string
}

// appPage is html/template so that the echoed Host and path are escaped.
var appPage = template.Must(template.New("app").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Gatehouse demo: {{.Instance}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
.instance{font-size:2rem;font-weight:bold;color:#2a6}</style></head>
<body>
<p>This page was served by</p>
<p class="instance">{{.Instance}}</p>
<p>Host <code>{{.Host}}</code>, path as the backend saw it <code>{{.Path}}</code>.</p>
<p>Reload: Gatehouse balances <code>/app/</code> round-robin over app-1 and app-2.
See the request headers the backend received at <a href="api/hello">api/hello</a>.</p>
</body>
</html>
`))
