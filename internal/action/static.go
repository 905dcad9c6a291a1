package action

import (
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/compress"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// static serves files from one directory and never from outside it.
type static struct {
	root   string // absolute directory path
	index  []string
	browse bool
	strip  string // no trailing '/'; "" when nothing is stripped
	// precompressed codings whose FILE.br/.zst/.gz are served, in
	// preference order; nil when off.
	precompressed []compress.Encoding
}

// NewStatic builds the static-files action for cfg.Root. stripPrefix is
// removed from the request path (on a segment boundary) before the file is
// looked up; the runtime resolves it from cfg.StripPrefix or the route's
// "/x/*" match, so cfg.StripPrefix itself is not read here.
//
// Contract:
//   - Files are opened through os.Root, opened per request (so a deploy
//     that swaps a symlinked root is seen at once): neither ".." nor a
//     symlink can reach outside the root; such a request gets 404.
//   - A path segment starting with '.' (dotfiles, ".git") gets 404, except
//     ".well-known" (RFC 8615).
//   - A directory is served by its first existing index file (cfg.Index,
//     default ["index.html"]), else listed when cfg.Browse, else 403. A
//     directory asked without its trailing '/' is redirected (301) to it,
//     with a relative Location.
//   - Only GET and HEAD; anything else gets 405 with Allow.
//   - Files go through http.ServeContent: Content-Type by extension,
//     Last-Modified, Range (206), conditional requests; the ETag is strong,
//     "<mtime-ns-hex>-<size-hex>", as nginx makes it.
//   - With cfg.Precompressed (br, zstd, gzip), a file is answered with
//     FILE.br, FILE.zst or FILE.gz when that file exists and the client
//     accepts the coding (compress.Negotiate, cfg order breaking ties):
//     Content-Encoding set, the original's Content-Type, the variant's own
//     strong ETag ("<mtime>-<size>-<coding>") and Last-Modified, and Range
//     over the variant's bytes (a stored representation, RFC 9110 section
//     14). Every file response then carries Vary: Accept-Encoding.
//
// Errors wrap ErrConfig: an empty root, a root that is not a directory, an
// index name that is not a plain file name, an unknown or repeated coding
// in cfg.Precompressed.
func NewStatic(cfg config.Static, stripPrefix string) (http.Handler, error) {
	if cfg.Root == "" {
		return nil, fmt.Errorf("%w: static needs a root directory", ErrConfig)
	}
	abs, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("%w: static root %q: %w", ErrConfig, cfg.Root, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("%w: static root %q: %w", ErrConfig, cfg.Root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: static root %q is not a directory", ErrConfig, cfg.Root)
	}
	index := cfg.Index
	if index == nil {
		index = config.DefaultStaticIndex()
	}
	for _, name := range index {
		if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			return nil, fmt.Errorf("%w: static index %q must be a file name", ErrConfig, name)
		}
	}
	strip := strings.TrimSuffix(stripPrefix, "/")
	if strip != "" && !strings.HasPrefix(strip, "/") {
		return nil, fmt.Errorf("%w: static strip prefix %q must start with '/'", ErrConfig, stripPrefix)
	}
	var pre []compress.Encoding
	if len(cfg.Precompressed) > 0 {
		if pre, err = compress.ParseEncodings(cfg.Precompressed); err != nil {
			return nil, fmt.Errorf("%w: static precompressed: %w", ErrConfig, err)
		}
	}
	return &static{root: abs, index: index, browse: cfg.Browse, strip: strip, precompressed: pre}, nil
}

func (h *static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// RFC 9110 section 15.5.6: a 405 lists the allowed methods.
		w.Header().Set("Allow", "GET, HEAD")
		plainError(w, r, http.StatusMethodNotAllowed)
		return
	}
	name, ok := h.name(r.URL.Path)
	if !ok {
		plainError(w, r, http.StatusNotFound)
		return
	}
	root, err := os.OpenRoot(h.root)
	if err != nil {
		plainError(w, r, http.StatusNotFound)
		return
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		plainError(w, r, statusFor(err))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		plainError(w, r, http.StatusNotFound)
		return
	}
	trailing := strings.HasSuffix(r.URL.Path, "/")
	if !st.IsDir() {
		if trailing || !st.Mode().IsRegular() {
			plainError(w, r, http.StatusNotFound)
			return
		}
		h.serveFile(w, r, root, name, f, st)
		return
	}
	if !trailing {
		redirectToDir(w, r)
		return
	}
	for _, idx := range h.index {
		fi, err := root.Open(path.Join(name, idx))
		if err != nil {
			continue
		}
		ist, err := fi.Stat()
		if err == nil && ist.Mode().IsRegular() {
			h.serveFile(w, r, root, path.Join(name, idx), fi, ist)
			fi.Close()
			return
		}
		fi.Close()
	}
	if !h.browse {
		plainError(w, r, http.StatusForbidden)
		return
	}
	list(w, r, f)
}

// name maps a request path to a name inside the root, or false for a path
// that must not be served.
func (h *static) name(p string) (string, bool) {
	if h.strip != "" {
		switch {
		case p == h.strip:
			p = "/"
		case strings.HasPrefix(p, h.strip) && p[len(h.strip)] == '/':
			p = p[len(h.strip):]
		}
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", false
	}
	// Clean resolves ".." against the root ("/../etc/passwd" is
	// "/etc/passwd" inside it); os.Root catches anything Clean cannot
	// see, such as symlinks.
	clean := path.Clean("/" + p)
	for seg := range strings.SplitSeq(clean, "/") {
		if strings.HasPrefix(seg, ".") && seg != ".well-known" {
			return "", false
		}
		if strings.IndexByte(seg, '\\') >= 0 {
			return "", false // a separator on Windows; never a real name here
		}
	}
	if clean == "/" {
		return ".", true
	}
	return clean[1:], true
}

// statusFor maps an open error to 403 or 404, never revealing more.
func statusFor(err error) int {
	if errors.Is(err, fs.ErrPermission) {
		return http.StatusForbidden
	}
	return http.StatusNotFound
}

// serveFile sends f (named name inside root), or its pre-compressed
// variant.
func (h *static) serveFile(w http.ResponseWriter, r *http.Request, root *os.Root, name string, f *os.File, st fs.FileInfo) {
	if len(h.precompressed) > 0 {
		// Which bytes this URL returns depends on Accept-Encoding (RFC
		// 9110 section 12.5.5), also for a client that gets the original.
		compress.AddVary(w.Header())
		if h.serveVariant(w, r, root, name, f, st) {
			return
		}
	}
	// A strong validator from mtime and size (RFC 9110 section 8.8.3);
	// ServeContent then answers If-None-Match and If-Range with it.
	w.Header().Set("Etag", etag(st, ""))
	http.ServeContent(w, r, st.Name(), st.ModTime(), f)
}

// serveVariant serves the best accepted pre-compressed variant that
// exists, trying the next one when a file is missing; false when none.
func (h *static) serveVariant(w http.ResponseWriter, r *http.Request, root *os.Root, name string, f *os.File, st fs.FileInfo) bool {
	ae := r.Header["Accept-Encoding"]
	if len(ae) == 0 {
		return false
	}
	var buf [4]compress.Encoding
	offer := append(buf[:0], h.precompressed...)
	for len(offer) > 0 {
		e := compress.Negotiate(ae, offer)
		if e == compress.Identity {
			return false
		}
		if vf, err := root.Open(name + e.Ext()); err == nil {
			vst, err := vf.Stat()
			if err == nil && vst.Mode().IsRegular() {
				hd := w.Header()
				hd.Set("Content-Type", contentType(st.Name(), f))
				hd.Set("Content-Encoding", e.String())
				// Each variant is its own representation with its own
				// strong validator (RFC 9110 section 8.8.3.3); the
				// coding suffix keeps two variants of equal size and
				// mtime apart.
				hd.Set("Etag", etag(vst, "-"+e.String()))
				// ServeContent leaves Content-Length out when
				// Content-Encoding is set (it expects on-the-fly
				// coding); ours is the file's size. Range responses
				// and errors replace or drop it.
				hd.Set("Content-Length", strconv.FormatInt(vst.Size(), 10))
				http.ServeContent(w, r, st.Name(), vst.ModTime(), vf)
				vf.Close()
				return true
			}
			vf.Close()
		}
		for i, o := range offer {
			if o == e {
				offer = append(offer[:i], offer[i+1:]...)
				break
			}
		}
	}
	return false
}

// etag is the strong entity tag of a file: mtime and size, as nginx makes
// it, plus suffix.
func etag(st fs.FileInfo, suffix string) string {
	return `"` + strconv.FormatInt(st.ModTime().UnixNano(), 16) + "-" + strconv.FormatInt(st.Size(), 16) + suffix + `"`
}

// contentType is the original file's type, by extension or else sniffed
// from its first bytes, as ServeContent would find it: the variant's own
// name and bytes would say "compressed data".
func contentType(name string, f *os.File) string {
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		return ct
	}
	var b [512]byte
	n, _ := f.ReadAt(b[:], 0)
	return http.DetectContentType(b[:n])
}

// redirectToDir sends "/dir" to "/dir/" with a relative Location (the last
// segment plus '/'), so relative links in the index work and no request
// data can name another host.
func redirectToDir(w http.ResponseWriter, r *http.Request) {
	loc := path.Base(r.URL.EscapedPath()) + "/"
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	if strings.HasPrefix(loc, "/") {
		loc = "./"
	}
	w.Header().Set("Location", loc)
	plainError(w, r, http.StatusMovedPermanently)
}
