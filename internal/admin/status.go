package admin

import (
	"net/http"
	"sort"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/cache"
)

// statusResult is the answer to GET /status.
type statusResult struct {
	Version       string           `json:"version"`
	Generation    uint64           `json:"generation"`
	Started       time.Time        `json:"started"`
	UptimeSeconds float64          `json:"uptime_seconds"`
	Listeners     []listenerStatus `json:"listeners"`
	Routes        int              `json:"routes"`
	Upstreams     []upstreamStatus `json:"upstreams"`
	Caches        []string         `json:"caches"`
}

type listenerStatus struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

type upstreamStatus struct {
	Name    string         `json:"name"`
	Policy  string         `json:"policy"`
	Targets []targetStatus `json:"targets"`
}

type targetStatus struct {
	Target   string `json:"target"`
	InFlight int64  `json:"in_flight"`
}

// status handles GET /status: what runs, from the current runtime.
func (h *Handler) status(w http.ResponseWriter, _ *http.Request) {
	rt := h.opts.Holder.Current()
	now := h.opts.Now()
	res := statusResult{
		Version:       h.opts.Version,
		Generation:    rt.Generation(),
		Started:       h.opts.Started.UTC(),
		UptimeSeconds: now.Sub(h.opts.Started).Round(time.Millisecond).Seconds(),
		Listeners:     []listenerStatus{},
		Routes:        len(rt.Config().Routes),
		Upstreams:     []upstreamStatus{},
		Caches:        []string{},
	}
	if h.opts.Listeners != nil {
		for name, a := range h.opts.Listeners() {
			res.Listeners = append(res.Listeners, listenerStatus{Name: name, Address: a.String()})
		}
		sort.Slice(res.Listeners, func(i, j int) bool { return res.Listeners[i].Name < res.Listeners[j].Name })
	}
	for _, p := range rt.Pools() {
		us := upstreamStatus{Name: p.Name(), Policy: p.PolicyName(), Targets: []targetStatus{}}
		for _, t := range p.Targets() {
			us.Targets = append(us.Targets, targetStatus{Target: t.String(), InFlight: t.InFlight()})
		}
		res.Upstreams = append(res.Upstreams, us)
	}
	seen := map[string]bool{}
	for key := range rt.Shared(cache.StateKeyRoot) {
		if name, ok := cache.StateKeyName(key); ok && !seen[name] {
			seen[name] = true
			res.Caches = append(res.Caches, name)
		}
	}
	sort.Strings(res.Caches)
	writeJSON(w, http.StatusOK, res)
}
