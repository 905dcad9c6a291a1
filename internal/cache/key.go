package cache

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// KeyOptions shape the cache key. The primary key is host, path and query
// (so one URL's purge or invalidation reaches all its variants); the
// secondary key adds the method, the scheme, the configured request
// headers and cookies, and (POST) the body hash. Vary adds more per entry.
type KeyOptions struct {
	// IgnoreQuery lists query parameter names left out of the key; a name
	// ending in "*" is a prefix ("utm_*").
	IgnoreQuery []string
	// SortQuery sorts the parameters, so ?a=1&b=2 and ?b=2&a=1 share an
	// entry.
	SortQuery bool
	// Headers and Cookies are request header and cookie names whose values
	// become part of the key.
	Headers, Cookies []string
}

// primaryKey is "host/path?query" with the host lower-cased and the query
// normalised by the options. The scheme is in the secondary key.
func (c *Cache) primaryKey(host, escapedPath, rawQuery string) string {
	q := c.normQuery(rawQuery)
	host = strings.ToLower(host)
	if q == "" {
		return host + escapedPath
	}
	return host + escapedPath + "?" + q
}

func (c *Cache) requestKey(r *http.Request) string {
	return c.primaryKey(r.Host, r.URL.EscapedPath(), r.URL.RawQuery)
}

func (c *Cache) normQuery(raw string) string {
	k := c.opts.Key
	if raw == "" || (len(k.IgnoreQuery) == 0 && !k.SortQuery) {
		return raw
	}
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, p := range parts {
		if p == "" {
			continue
		}
		name, _, _ := strings.Cut(p, "=")
		if !c.ignoredParam(name) {
			kept = append(kept, p)
		}
	}
	if k.SortQuery {
		// A stable sort keeps the order of repeated names (?a=2&a=1 is
		// not ?a=1&a=2 to most applications).
		slices.SortStableFunc(kept, func(a, b string) int {
			na, _, _ := strings.Cut(a, "=")
			nb, _, _ := strings.Cut(b, "=")
			return strings.Compare(na, nb)
		})
	}
	return strings.Join(kept, "&")
}

func (c *Cache) ignoredParam(name string) bool {
	for _, ig := range c.opts.Key.IgnoreQuery {
		if p, ok := strings.CutSuffix(ig, "*"); ok {
			if strings.HasPrefix(name, p) {
				return true
			}
		} else if ig == name {
			return true
		}
	}
	return false
}

// variantKey is the secondary key: method (HEAD uses GET's entries),
// scheme, the configured headers and cookies, and the body hash.
func (c *Cache) variantKey(r *http.Request, method, bodyHash string) string {
	scheme := "http"
	if info := observe.InfoFrom(r.Context()); info != nil && info.Scheme != "" {
		scheme = info.Scheme
	} else if r.TLS != nil {
		scheme = "https"
	}
	k := c.opts.Key
	if len(k.Headers) == 0 && len(k.Cookies) == 0 && bodyHash == "" {
		if method == http.MethodGet {
			if scheme == "https" {
				return "GET https"
			}
			return "GET http"
		}
		return method + " " + scheme
	}
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte(' ')
	b.WriteString(scheme)
	for _, h := range k.Headers {
		b.WriteString("\x00h:")
		b.WriteString(varyValue(r.Header, h))
	}
	for _, name := range k.Cookies {
		b.WriteString("\x00c:")
		if ck, err := r.Cookie(name); err == nil {
			b.WriteString(ck.Value)
		}
	}
	if bodyHash != "" {
		b.WriteString("\x00b:")
		b.WriteString(bodyHash)
	}
	return b.String()
}
