package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

func TestStatus(t *testing.T) {
	be, _ := purgeBackend(t)
	cfg := cacheConfigFor(be.URL, "")
	f := newFixture(t, cfg, "")
	st, body, _ := f.do(t, http.MethodGet, "/status", "")
	if st != http.StatusOK {
		t.Fatalf("%d %s", st, body)
	}
	var got statusResult
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"version", got.Version, "gatehouse test"},
		{"generation", got.Generation, f.holder.Current().Generation()},
		{"uptime", got.UptimeSeconds, 90.0},
		{"routes", got.Routes, 1},
		{"listeners", fmt.Sprint(got.Listeners), "[{web 127.0.0.1:8080}]"},
		{"upstreams", len(got.Upstreams), 1},
		{"caches", fmt.Sprint(got.Caches), "[pages]"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
				t.Fatalf("%v, want %v", c.got, c.want)
			}
		})
	}
	if len(got.Upstreams) == 1 {
		u := got.Upstreams[0]
		if u.Name != "be" || u.Policy == "" || len(u.Targets) != 1 || u.Targets[0].Target == "" {
			t.Fatalf("upstream %+v", u)
		}
	}

	// A reload shows in the generation.
	if st, body, _ := f.do(t, http.MethodPost, "/reload", ""); st != http.StatusOK {
		t.Fatalf("reload: %d %s", st, body)
	}
	_, body, _ = f.do(t, http.MethodGet, "/status", "")
	var after statusResult
	if err := json.Unmarshal([]byte(body), &after); err != nil || after.Generation != got.Generation+1 {
		t.Fatalf("generation after reload %d, before %d (%v)", after.Generation, got.Generation, err)
	}
}
