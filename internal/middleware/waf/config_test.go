package waf

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/middleware"
)

// TestDetectionMode: detection mode never refuses; it logs the rules that
// would have refused, with the request ID, and the backend gets the request.
func TestDetectionMode(t *testing.T) {
	t.Parallel()
	g := newGateway(t, map[string]any{"mode": "detection"}, nil)
	c := client()
	for i, a := range classicAttacks {
		t.Run(a.name, func(t *testing.T) {
			id := "rid-detect-" + string(rune('a'+i))
			before := g.hits.Load()
			hdr := append([]string{"X-Test-ID", id}, a.header...)
			status, body := do(t, c, a.method, g.front.URL+a.path, a.contentType, strings.NewReader(a.body), hdr...)
			if status != http.StatusOK || !strings.HasPrefix(body, "ok ") {
				t.Fatalf("got %d %q, want the backend's 200", status, body)
			}
			if g.hits.Load() != before+1 {
				t.Fatalf("backend did not receive the request")
			}
			lines := g.logs.linesWith(`"msg":"waf match"`, `"request_id":"`+id+`"`, `"mode":"detection"`, "949110")
			if len(lines) != 1 {
				t.Fatalf("want one \"waf match\" line naming the anomaly rule 949110 for %s; logs:\n%s", id, g.logs)
			}
		})
	}
	if n := len(g.logs.linesWith(`"msg":"waf blocked"`)); n != 0 {
		t.Errorf("detection mode logged %d blocks", n)
	}
}

// TestExclusions: rules switched off per path, per target, or everywhere.
func TestExclusions(t *testing.T) {
	t.Parallel()
	sqli := "?q=" + url.QueryEscape("1' OR '1'='1")
	settings := map[string]any{"exclusions": []any{
		// 942100 is libinjection's SQLi detection, the only rule this
		// payload triggers at paranoia 1.
		map[string]any{"rule_ids": []int{942100}, "paths": []string{"/api/search"}},
		map[string]any{"rule_ids": []int{942100}, "paths": "/legacy/*"},
		map[string]any{"rule_ids": []int{942100}, "targets": []string{"ARGS:free_text"}},
		map[string]any{"rule_ids": []int{920420}},
	}}
	g := newGateway(t, settings, nil)
	c := client()
	cases := []struct {
		path   string
		ctype  string
		status int
	}{
		{"/api/search" + sqli, "", 200},
		{"/api/search/more" + sqli, "", 403}, // exact path only
		{"/api/other" + sqli, "", 403},
		{"/legacy" + sqli, "", 200},
		{"/legacy/deep/page" + sqli, "", 200},
		{"/legacyx" + sqli, "", 403},
		{"/any?free_text=" + url.QueryEscape("1' OR '1'='1"), "", 200},
		{"/any?other=" + url.QueryEscape("1' OR '1'='1"), "", 403},
		{"/upload", "application/octet-stream", 200},                               // 920420 removed everywhere
		{"/api/search?q=" + url.QueryEscape("<script>alert(1)</script>"), "", 403}, // other rules still on
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			method, body := "GET", ""
			if tc.ctype != "" {
				method, body = "POST", "abc"
			}
			status, got := do(t, c, method, g.front.URL+tc.path, tc.ctype, strings.NewReader(body))
			if status != tc.status {
				t.Errorf("status %d (%q), want %d", status, got, tc.status)
			}
		})
	}
}

// TestParanoiaAndThreshold: a request that scores under the threshold
// passes; raising the paranoia level adds rules.
func TestParanoiaAndThreshold(t *testing.T) {
	t.Parallel()
	// Two critical matches score 10: blocked at 5, passes at 100.
	attack := "/?q=" + url.QueryEscape("<script>alert(1)</script>")
	high := newGateway(t, map[string]any{"anomaly_threshold": map[string]any{"inbound": 100}}, nil)
	if status, _ := do(t, client(), "GET", high.front.URL+attack, "", nil); status != 200 {
		t.Errorf("threshold 100: status %d, want 200", status)
	}
	if len(high.logs.linesWith(`"msg":"waf match"`, "941100")) != 1 {
		t.Errorf("matches under the threshold are logged as \"waf match\"; logs:\n%s", high.logs)
	}
	// "1'--" scores 8 at paranoia 1 (942100 and 920350, numeric Host),
	// under a threshold of 10; paranoia 2 adds 942300, 942440, 942520.
	probe := "/plain?x=" + url.QueryEscape("1'--")
	for _, tc := range []struct {
		pl     int
		status int
	}{{1, 200}, {2, 403}} {
		g := newGateway(t, map[string]any{"paranoia_level": tc.pl, "anomaly_threshold": map[string]any{"inbound": 10}}, nil)
		if status, _ := do(t, client(), "GET", g.front.URL+probe, "", nil); status != tc.status {
			t.Errorf("paranoia %d: status %d, want %d; logs:\n%s", tc.pl, status, tc.status, g.logs)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		settings any
		want     string
	}{
		{"mode", map[string]any{"mode": "block"}, `unknown mode "block"`},
		{"paranoia", map[string]any{"paranoia_level": 5}, "paranoia_level 5 out of range"},
		{"threshold", map[string]any{"anomaly_threshold": map[string]any{"inbound": -1}}, "at least 1"},
		{"over_limit", map[string]any{"request_body": map[string]any{"over_limit": "drop"}}, `unknown request_body.over_limit "drop"`},
		{"limit", map[string]any{"request_body": map[string]any{"limit": "1GB"}}, "between 1 byte and 64MB"},
		{"unknown key", map[string]any{"paranoia": 2}, "paranoia"},
		{"mime", map[string]any{"response_body": map[string]any{"inspect": true, "mime_types": []string{"text/event-stream"}}}, "cannot be inspected"},
		{"no rule ids", map[string]any{"exclusions": []any{map[string]any{"paths": "/x"}}}, "rule_ids is required"},
		{"path injection", map[string]any{"exclusions": []any{map[string]any{"rule_ids": []int{1}, "paths": `/x" "id:1,deny`}}}, "without spaces or quotes"},
		{"target injection", map[string]any{"exclusions": []any{map[string]any{"rule_ids": []int{1}, "targets": "ARGS:a,ctl:ruleEngine=Off"}}}, "target"},
		{"bad directive", map[string]any{"directives": "SecRule ARGS \"@rx (\" \"id:1,deny\""}, "waf:"},
		{"unknown directive", map[string]any{"directives": "SecNoSuchThing On"}, "waf:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(config.NewMiddlewareSpec(Name, tc.settings), middleware.Env{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			var list config.ErrorList
			if !asErrorList(err, &list) {
				t.Errorf("error %T is not a config.ErrorList", err)
			}
		})
	}
	t.Run("response_body shorthand", func(t *testing.T) {
		cfg, err := decode(config.NewMiddlewareSpec(Name, map[string]any{"response_body": true, "paranoia_level": 2}))
		if err != nil || !cfg.ResponseBody.Inspect || cfg.ParanoiaLevel != 2 {
			t.Fatalf("decode: %+v, %v", cfg, err)
		}
	})
}

func asErrorList(err error, list *config.ErrorList) bool { return errors.As(err, list) }

// FuzzExclusion: whatever an exclusion holds, if it validates, its
// generated rules stay one directive per line with no quote or newline
// from the input, so exclusions can never inject directives.
func FuzzExclusion(f *testing.F) {
	f.Add(942100, "/api/search", "ARGS:q")
	f.Add(1, "/legacy/*", "REQUEST_COOKIES:session")
	f.Add(5, `/x" "id:1,deny`, "ARGS:a,ctl:ruleEngine=Off")
	f.Add(7, "/a\nSecRuleEngine Off", "ARGS:\"")
	f.Fuzz(func(t *testing.T, id int, path, target string) {
		ex := Exclusion{RuleIDs: []int{id}, Paths: config.StringList{path}, Targets: config.StringList{target}}
		if ex.validate() != nil {
			return
		}
		if strings.ContainsAny(path+target, "\"\n\r\\ ,") {
			t.Fatalf("validated unsafe values %q %q", path, target)
		}
		base := Config{Mode: ModeBlocking, ParanoiaLevel: 1}
		if err := base.normalize(config.Pos{}); err != nil {
			t.Fatal(err)
		}
		without := strings.Count(directives(base), "\n")
		base.Exclusions = []Exclusion{ex}
		text := directives(base)
		lines := strings.Count(text, "\n") - without
		want := 1
		if strings.HasSuffix(path, "/*") && path != "/*" {
			want = 2
		}
		if lines != want {
			t.Fatalf("exclusion %+v generated %d lines, want %d:\n%s", ex, lines, want, text)
		}
	})
}

// TestEngineShared: equal settings (as after a reload) reuse one compiled
// engine from the state store; different settings compile their own.
func TestEngineShared(t *testing.T) {
	t.Parallel()
	st := &memState{}
	env := middleware.Env{State: st}
	for _, s := range []any{
		map[string]any{"paranoia_level": 3},
		map[string]any{"paranoia_level": 3, "mode": "blocking"}, // same after defaults
		map[string]any{"paranoia_level": 3, "mode": "detection"},
	} {
		if _, err := New(config.NewMiddlewareSpec(Name, s), env); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.builds.Load(); n != 2 {
		t.Fatalf("%d engines compiled, want 2", n)
	}
}
