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

// targetStatus is one target's state (upstream.TargetState).
type targetStatus struct {
	Target       string     `json:"target"`
	Healthy      bool       `json:"healthy"`
	Ejected      bool       `json:"ejected"`
	EjectedUntil *time.Time `json:"ejected_until,omitempty"`
	InFlight     int64      `json:"in_flight"`
	LatencyMS    float64    `json:"latency_ms"`
	Weight       int        `json:"weight"`
	SlowStart    float64    `json:"slow_start"`
	Requests     int64      `json:"requests"`
	Failures     int64      `json:"failures"`
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
		for _, st := range p.States() {
			ts := targetStatus{Target: st.Target, Healthy: st.Healthy, Ejected: st.Ejected,
				InFlight: st.InFlight, LatencyMS: float64(st.Latency.Microseconds()) / 1000,
				Weight: st.Weight, SlowStart: st.SlowStart, Requests: st.Requests, Failures: st.Failures}
			if st.Ejected {
				u := st.EjectedUntil.UTC()
				ts.EjectedUntil = &u
			}
			us.Targets = append(us.Targets, ts)
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
