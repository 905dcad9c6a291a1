package runtime

import (
	"maps"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// Shared returns the long-lived values (state.go) this Runtime holds whose
// state key starts with prefix, by key: e.g. the live cache stores for the
// admin API's purge (cache.StateKeyPrefix). The values are shared with
// the requests being served and with later runtimes; callers use them only
// through their own concurrency-safe methods.
func (rt *Runtime) Shared(prefix string) map[string]any {
	out := map[string]any{}
	rt.state.mu.Lock()
	defer rt.state.mu.Unlock()
	for key := range rt.stateKeys {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		if it := rt.state.items[key]; it != nil {
			out[key] = it.val
		}
	}
	return out
}

// Pools returns the upstream pools of this Runtime, sorted by name (for
// status reports). The pools are live: read only.
func (rt *Runtime) Pools() []*upstream.Pool {
	names := slices.Sorted(maps.Keys(rt.pools))
	out := make([]*upstream.Pool, 0, len(names))
	for _, n := range names {
		out = append(out, rt.pools[n])
	}
	return out
}
