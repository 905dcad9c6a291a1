package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// adminConfig is one instance with the admin API on 127.0.0.1:0 (token
// required), a versioned fixed response on /ver and a cached route to
// backend on everything else.
func adminConfig(version int, backend string) string {
	return fmt.Sprintf(`
admin: { address: "127.0.0.1:0", token: "e2e-token" }
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - name: ver
    match: { path: /ver }
    respond: { body: "v%d" }
  - name: pages
    match: { path: /* }
    middleware:
      - cache: { name: pages, size: 4MB }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, version, backend)
}

// adminAddr is the admin API's bound address, from its log line.
func adminAddr(inst *instance) string {
	inst.t.Helper()
	addr := inst.WaitLog(0, "admin listening").str("address")
	if addr == "" || strings.HasSuffix(addr, ":0") {
		inst.t.Fatalf("admin listening line without a bound address: %q", addr)
	}
	return addr
}

// adminCall sends one admin request and returns status and body.
func adminCall(t *testing.T, c *http.Client, method, url, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// adminGeneration reads the generation from /status.
func adminGeneration(t *testing.T, c *http.Client, admin string) uint64 {
	t.Helper()
	st, body := adminCall(t, c, http.MethodGet, "http://"+admin+"/status", "e2e-token", "")
	var s struct {
		Generation uint64 `json:"generation"`
		Listeners  []struct {
			Address string `json:"address"`
		} `json:"listeners"`
	}
	if st != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil || len(s.Listeners) != 1 {
		t.Fatalf("status: %d %s", st, body)
	}
	return s.Generation
}

// TestAdminReload: POST /reload reloads like SIGHUP and answers the new
// generation; a broken file is refused with 422 and its file:line:col, and
// the previous configuration keeps serving.
func TestAdminReload(t *testing.T) {
	be := newRecorder(t, "be")
	inst := start(t, adminConfig(1, be.Addr()))
	admin := adminAddr(inst)
	c := newClient(t)

	if st, body := adminCall(t, c, http.MethodPost, "http://"+admin+"/reload", "", ""); st != http.StatusUnauthorized {
		t.Fatalf("reload without token: %d %s", st, body)
	}
	if st, body := adminCall(t, c, http.MethodPost, "http://"+admin+"/reload", "wrong", ""); st != http.StatusUnauthorized {
		t.Fatalf("reload with a wrong token: %d %s", st, body)
	}

	gen := adminGeneration(t, c, admin)
	st, body := adminCall(t, c, http.MethodPost, "http://"+admin+"/reload", "e2e-token", "")
	var res struct {
		Generation uint64 `json:"generation"`
	}
	if st != http.StatusOK || json.Unmarshal([]byte(body), &res) != nil || res.Generation != gen+1 {
		t.Fatalf("reload: %d %s (generation before %d)", st, body, gen)
	}
	if got := adminGeneration(t, c, admin); got != gen+1 {
		t.Fatalf("status generation %d after reload, want %d", got, gen+1)
	}

	// A valid edit: the file watcher applies it; POST /reload applies the
	// same file again and the new version serves.
	inst.RewriteOK(adminConfig(2, be.Addr()), true)
	if st, body = adminCall(t, c, http.MethodPost, "http://"+admin+"/reload", "e2e-token", ""); st != http.StatusOK {
		t.Fatalf("reload after edit: %d %s", st, body)
	}
	if st, body, _ := get(t, c, inst.URL("/ver"), ""); st != 200 || body != "v2" {
		t.Fatalf("after valid reload: %d %q", st, body)
	}

	// Broken on line 3 (an unknown key): the watcher refuses it, and so
	// does POST /reload, with the position.
	broken := `
admin: { address: "127.0.0.1:0", token: "e2e-token" }
listenerz: [ { address: "127.0.0.1:0" } ]
routes: [ { match: { path: /* }, respond: { body: broken } } ]
`
	if e := inst.Rewrite(broken); e.str("msg") != "config reload failed" {
		t.Fatalf("watcher accepted the broken file: %v", e)
	}
	gen = adminGeneration(t, c, admin)
	st, body = adminCall(t, c, http.MethodPost, "http://"+admin+"/reload", "e2e-token", "")
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, `"line": 3`) || !strings.Contains(body, "gatehouse.yaml:3:1") || !strings.Contains(body, "listenerz") {
		t.Fatalf("broken reload: %d %s", st, body)
	}
	if got := adminGeneration(t, c, admin); got != gen {
		t.Fatalf("generation moved to %d on a refused reload (was %d)", got, gen)
	}
	if st, body, _ := get(t, c, inst.URL("/ver"), ""); st != 200 || body != "v2" {
		t.Fatalf("old configuration not serving after a refused reload: %d %q", st, body)
	}
}

// TestAdminCachePurge: a URL purged through POST /cache/purge is a miss
// on the next request.
func TestAdminCachePurge(t *testing.T) {
	be := cacheNewBackend(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprintf(w, "n=%d", n)
	})
	inst := start(t, adminConfig(1, be.Addr()))
	admin := adminAddr(inst)
	c := newClient(t)

	for _, p := range []string{"/page", "/other"} {
		if st, _, h := cacheDo(t, c, "GET", inst.URL(p), ""); st != 200 || !strings.Contains(h.Get("Cache-Status"), "stored") {
			t.Fatalf("%s first: %d %q", p, st, h.Get("Cache-Status"))
		}
		if _, _, h := cacheDo(t, c, "GET", inst.URL(p), ""); !strings.Contains(h.Get("Cache-Status"), "hit") {
			t.Fatalf("%s second: Cache-Status %q, want a hit", p, h.Get("Cache-Status"))
		}
	}

	st, body := adminCall(t, c, http.MethodPost, "http://"+admin+"/cache/purge", "e2e-token", `{"cache":"pages","url":"http://`+inst.Addr+`/page"}`)
	if st != http.StatusOK || !strings.Contains(body, `"purged": 1`) {
		t.Fatalf("purge: %d %s", st, body)
	}
	if _, body, h := cacheDo(t, c, "GET", inst.URL("/page"), ""); strings.Contains(h.Get("Cache-Status"), "hit") || !strings.Contains(h.Get("Cache-Status"), "fwd=") || body != "n=3" {
		t.Fatalf("after purge: Cache-Status %q body %q, want a miss reaching the backend", h.Get("Cache-Status"), body)
	}
	if _, _, h := cacheDo(t, c, "GET", inst.URL("/other"), ""); !strings.Contains(h.Get("Cache-Status"), "hit") {
		t.Fatalf("an unrelated URL was purged: Cache-Status %q", h.Get("Cache-Status"))
	}

	if st, body := adminCall(t, c, http.MethodPost, "http://"+admin+"/cache/purge", "e2e-token", `{"cache":"nope","url":"http://x/"}`); st != http.StatusNotFound {
		t.Fatalf("unknown cache: %d %s", st, body)
	}
}

// TestAdminFollowsReload: a reload applies a new token at once, moves the
// API to a new address (the old one closes), and removing `admin` stops
// it; SIGTERM still stops cleanly.
func TestAdminFollowsReload(t *testing.T) {
	be := newRecorder(t, "be")
	cfg := func(adminBlock string) string {
		return adminBlock + "\n" + fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes: [ { match: { path: /* }, upstream: be } ]
upstreams:
  be: { targets: [ "%s" ] }
`, be.Addr())
	}
	inst := start(t, cfg(`admin: { address: "127.0.0.1:0", token: "one" }`))
	first := adminAddr(inst)
	c := newClient(t)
	status := func(addr, token string) int {
		st, _ := adminCall(t, c, http.MethodGet, "http://"+addr+"/status", token, "")
		return st
	}

	inst.RewriteOK(cfg(`admin: { address: "127.0.0.1:0", token: "two" }`), true)
	if st := status(first, "one"); st != http.StatusUnauthorized {
		t.Fatalf("old token after rotation: %d", st)
	}
	if st := status(first, "two"); st != http.StatusOK {
		t.Fatalf("new token after rotation: %d", st)
	}

	mark := inst.Stderr.Len()
	inst.RewriteOK(cfg(`admin: { address: "localhost:0", token: "two" }`), true)
	moved := inst.WaitLog(mark, "admin listening").str("address")
	if moved == "" || moved == first {
		t.Fatalf("admin API not moved: %q (was %q)", moved, first)
	}
	if st := status(moved, "two"); st != http.StatusOK {
		t.Fatalf("moved API: %d", st)
	}
	if !waitUntil(logTimeout, func() bool {
		_, err := c.Get("http://" + first + "/status")
		return err != nil
	}) {
		t.Fatal("the old admin address still answers")
	}

	inst.RewriteOK(cfg(""), true)
	if !waitUntil(logTimeout, func() bool {
		_, err := c.Get("http://" + moved + "/status")
		return err != nil
	}) {
		t.Fatal("admin API still answers after `admin` was removed")
	}
	inst.Stop()
}
