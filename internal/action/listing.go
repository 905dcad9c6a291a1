package action

import (
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
)

// maxListing bounds the entries a directory listing shows.
const maxListing = 10000

// list writes a plain HTML listing of dir. Names are HTML-escaped in the
// text and percent-escaped in the links; dotfiles are left out.
func list(w http.ResponseWriter, r *http.Request, dir *os.File) {
	entries, err := dir.ReadDir(maxListing)
	if err != nil && !errors.Is(err, io.EOF) {
		plainError(w, r, http.StatusForbidden)
		return
	}
	entries = slices.DeleteFunc(entries, func(e fs.DirEntry) bool { return strings.HasPrefix(e.Name(), ".") })
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	title := html.EscapeString(r.URL.Path)
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html>\n<meta charset=\"utf-8\">\n<title>Index of %s</title>\n<h1>Index of %s</h1>\n<ul>\n", title, title)
	if r.URL.Path != "/" {
		b.WriteString("<li><a href=\"../\">../</a></li>\n")
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			name += "/"
		}
		// "./" keeps a name with a colon from reading as a URL scheme.
		href := "./" + (&url.URL{Path: name}).EscapedPath()
		fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a></li>\n", html.EscapeString(href), html.EscapeString(name))
	}
	b.WriteString("</ul>\n")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(b.String()))
}
