package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/cache"
)

// purgeRequest is the body of POST /cache/purge: exactly one of URL,
// Prefix and Tags.
type purgeRequest struct {
	// Cache names the cache (the cache middleware's `name`); default
	// "default".
	Cache string `json:"cache"`
	// URL purges one URL, all its variants: "http://host/path?query".
	URL string `json:"url"`
	// Prefix purges every URL starting with it: "http://host/articles/"
	// (a trailing "*" is allowed, as in PURGE).
	Prefix string `json:"prefix"`
	// Tags purges every response the backend tagged with one of them
	// (Surrogate-Key, Cache-Tag).
	Tags []string `json:"tags"`
}

// purgeResult is the answer: entries removed on this instance, and
// whether the purge was sent to the other instances.
type purgeResult struct {
	Cache   string `json:"cache"`
	Purged  int    `json:"purged"`
	Cluster bool   `json:"cluster"`
}

// messages turns the request into purge messages, or says what is wrong.
func (p purgeRequest) messages() ([]cache.PurgeMessage, error) {
	set := 0
	for _, ok := range []bool{p.URL != "", p.Prefix != "", len(p.Tags) > 0} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return nil, fmt.Errorf("%w: give exactly one of url, prefix and tags", errBadRequest)
	}
	switch {
	case p.URL != "":
		u, err := absolute("url", p.URL)
		if err != nil {
			return nil, err
		}
		return []cache.PurgeMessage{{Kind: "url", Value: cache.URLKey(u)}}, nil
	case p.Prefix != "":
		u, err := absolute("prefix", strings.TrimSuffix(p.Prefix, "*"))
		if err != nil {
			return nil, err
		}
		// A prefix has no query: the key is host + path, as PURGE with
		// a trailing "*" builds it.
		return []cache.PurgeMessage{{Kind: "prefix", Value: strings.ToLower(u.Host) + u.EscapedPath()}}, nil
	}
	out := make([]cache.PurgeMessage, 0, len(p.Tags))
	for _, t := range p.Tags {
		if t = strings.TrimSpace(t); t == "" {
			return nil, fmt.Errorf("%w: empty tag", errBadRequest)
		}
		out = append(out, cache.PurgeMessage{Kind: "tag", Value: t})
	}
	return out, nil
}

func absolute(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%w: %s must be an absolute http(s) URL such as \"http://www.example.com/path\"", errBadRequest, field)
	}
	return u, nil
}

// purge handles POST /cache/purge: the purge is applied to every live
// store of the named cache on this instance and, with cluster.redis, sent
// once to every instance over the cache's own fan-out (as PURGE does).
func (h *Handler) purge(w http.ResponseWriter, r *http.Request) {
	var req purgeRequest
	if err := decode(r, &req, false); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	msgs, err := req.messages()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	if req.Cache == "" {
		req.Cache = cache.DefaultName
	}
	stores := h.opts.Holder.Current().Shared(cache.StateKeyPrefix(req.Cache))
	if len(stores) == 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no cache named %q in the running configuration", req.Cache), nil)
		return
	}
	// Stores of one name share one fan-out channel: publish through the
	// first only. Sorted keys keep that choice deterministic.
	keys := make([]string, 0, len(stores))
	for k := range stores {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	res := purgeResult{Cache: req.Cache}
	for _, m := range msgs {
		for i, k := range keys {
			n, ok := cache.Purge(stores[k], m, i == 0)
			if ok {
				res.Purged += n
			}
		}
	}
	res.Cluster = h.opts.Holder.Current().Config().Cluster.Redis != nil
	h.opts.Logger.Info("admin: cache purged", "cache", req.Cache, "purged", res.Purged, "cluster", res.Cluster)
	writeJSON(w, http.StatusOK, res)
}
