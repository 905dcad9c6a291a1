package demo

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
)

// demoDoc mirrors the parts of the Gatehouse schema the demo config uses,
// decoded here without internal/config so that YAML validity is tested on
// its own.
type demoDoc struct {
	Listeners []struct {
		Name    string `yaml:"name"`
		Address string `yaml:"address"`
		TLS     *struct {
			Internal struct {
				Dir string `yaml:"dir"`
			} `yaml:"internal"`
		} `yaml:"tls"`
	} `yaml:"listeners"`
	Routes []struct {
		Name  string `yaml:"name"`
		Match struct {
			Host    any      `yaml:"host"`
			Path    any      `yaml:"path"`
			Methods []string `yaml:"methods"`
		} `yaml:"match"`
		Middleware []map[string]any `yaml:"middleware"`
		Upstream   string           `yaml:"upstream"`
		Respond    *struct {
			Status  int               `yaml:"status"`
			Body    string            `yaml:"body"`
			Headers map[string]string `yaml:"headers"`
		} `yaml:"respond"`
		Timeouts map[string]string `yaml:"timeouts"`
	} `yaml:"routes"`
	Upstreams map[string]struct {
		Policy  string   `yaml:"policy"`
		Targets []string `yaml:"targets"`
	} `yaml:"upstreams"`
}

func fakeBackends() *Backends {
	return &Backends{
		App1: "127.0.0.1:10001", App2: "127.0.0.1:10002", Chat: "127.0.0.1:10003",
		Embeddings: "127.0.0.1:10004", WebSocket: "127.0.0.1:10005",
	}
}

func decodeDemo(t testing.TB, data []byte) demoDoc {
	t.Helper()
	var doc demoDoc
	if err := yaml.UnmarshalWithOptions(data, &doc, yaml.Strict()); err != nil {
		t.Fatalf("demo config is not valid YAML for the mirror schema: %v\n%s", err, data)
	}
	return doc
}

func TestConfigContents(t *testing.T) {
	b := startBackends(t)
	const listen = "127.0.0.1:8080"
	doc := decodeDemo(t, Config(b, listen))

	if len(doc.Listeners) != 1 || doc.Listeners[0].Address != listen {
		t.Fatalf("listeners = %+v, want one on %s", doc.Listeners, listen)
	}
	wantTargets := map[string][]string{
		"apps":       {b.App1, b.App2},
		"app1":       {b.App1},
		"chat":       {b.Chat},
		"embeddings": {b.Embeddings},
		"websocket":  {b.WebSocket},
	}
	for name, want := range wantTargets {
		got := doc.Upstreams[name].Targets
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("upstream %s targets = %v, want %v", name, got, want)
		}
	}
	if p := doc.Upstreams["apps"].Policy; p != "round_robin" {
		t.Errorf("apps policy = %q", p)
	}

	routes := map[string]int{}
	for i, r := range doc.Routes {
		routes[r.Name] = i
	}
	tests := []struct {
		route    string
		path     any
		host     any
		upstream string
		mw       []string
	}{
		{"index", "/", nil, "", nil},
		{"apps", "/app/*", nil, "apps", []string{"rewrite", "headers"}},
		{"host-demo", nil, "demo.localhost", "app1", []string{"headers"}},
		{"chat", "/v1/chat/*", nil, "chat", nil},
		{"embeddings", "/v1/embeddings", nil, "embeddings", nil},
		{"websocket", "/ws/*", nil, "websocket", []string{"rewrite"}},
		{"health", "/healthz", nil, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.route, func(t *testing.T) {
			i, ok := routes[tt.route]
			if !ok {
				t.Fatalf("no route %q", tt.route)
			}
			r := doc.Routes[i]
			if r.Match.Path != tt.path || r.Match.Host != tt.host || r.Upstream != tt.upstream {
				t.Errorf("match path %v host %v upstream %q, want %v %v %q", r.Match.Path, r.Match.Host, r.Upstream, tt.path, tt.host, tt.upstream)
			}
			var names []string
			for _, m := range r.Middleware {
				for k := range m {
					names = append(names, k)
				}
			}
			if strings.Join(names, ",") != strings.Join(tt.mw, ",") {
				t.Errorf("middleware %v, want %v", names, tt.mw)
			}
		})
	}

	index := doc.Routes[routes["index"]].Respond
	if index == nil || index.Status != 200 || !strings.HasPrefix(index.Headers["Content-Type"], "text/html") {
		t.Fatalf("index respond = %+v", index)
	}
	for _, l := range links(listen) {
		if !strings.Contains(index.Body, `href="`+l.URL+`"`) {
			t.Errorf("index page does not link %s", l.URL)
		}
	}
	if !strings.Contains(index.Body, "curl -N http://127.0.0.1:8080/v1/chat/completions") {
		t.Error("index page lacks the streaming curl line")
	}
	if h := doc.Routes[routes["health"]].Respond; h == nil || h.Body != "ok\n" {
		t.Errorf("health respond = %+v", h)
	}
	chat := doc.Routes[routes["chat"]].Timeouts
	if chat["response_header"] != "2m" || chat["total"] != "" {
		t.Errorf("chat timeouts = %v, want response_header 2m and no total", chat)
	}
	apps := doc.Routes[routes["apps"]].Middleware
	if got := apps[1]["headers"]; !strings.Contains(toString(got), "{client_ip}") {
		t.Errorf("apps headers middleware %v lacks {client_ip}", got)
	}
}

func toString(v any) string {
	b, _ := yaml.Marshal(v)
	return string(b)
}

func TestConfigListenValues(t *testing.T) {
	tests := []struct {
		listen, wantBase string
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{":9000", "http://127.0.0.1:9000"},
		{"0.0.0.0:80", "http://127.0.0.1:80"},
		{"[::]:8080", "http://127.0.0.1:8080"},
		{"[::1]:8080", "http://[::1]:8080"},
		{"localhost:8080", "http://localhost:8080"},
		{"no-port", "http://no-port"},
		{"a\"b\n  c: d", ""},
		{"é\u2028\x00:1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			doc := decodeDemo(t, Config(fakeBackends(), tt.listen))
			if len(doc.Listeners) != 1 || doc.Listeners[0].Address != tt.listen {
				t.Fatalf("listener address did not round-trip: %+v", doc.Listeners)
			}
			if tt.wantBase == "" {
				return
			}
			if got := baseURL(tt.listen); got != tt.wantBase {
				t.Errorf("baseURL = %q, want %q", got, tt.wantBase)
			}
			if !strings.Contains(Banner(tt.listen), tt.wantBase+"/app/api/hello") {
				t.Errorf("banner lacks %s/app/api/hello", tt.wantBase)
			}
		})
	}
}

func TestBanner(t *testing.T) {
	got := Banner("127.0.0.1:8080")
	for _, want := range []string{
		"http://127.0.0.1:8080/\n",
		"http://127.0.0.1:8080/app/",
		"http://127.0.0.1:8080/ws/",
		"http://127.0.0.1:8080/healthz",
		"http://demo.localhost:8080/",
		"curl -H 'Host: demo.localhost' http://127.0.0.1:8080/",
		`curl -N http://127.0.0.1:8080/v1/chat/completions -d '{"stream":true,"messages":[{"role":"user","content":"hi"}]}'`,
		"curl http://127.0.0.1:8080/v1/embeddings -d ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("banner lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasSuffix(got, "\n") {
		t.Error("banner does not end with a newline")
	}
}

func FuzzConfigListen(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8080", ":80", "[::1]:1", "x\ny", `"\`, "\t<a>&", "\u0085\ufeff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, listen string) {
		if !utf8.ValidString(listen) {
			// Invalid UTF-8 becomes U+FFFD by design; Parse refuses such
			// files anyway.
			return
		}
		doc := decodeDemo(t, Config(fakeBackends(), listen))
		if len(doc.Listeners) != 1 || doc.Listeners[0].Address != listen {
			t.Fatalf("listener address %q did not round-trip: %+v", listen, doc.Listeners)
		}
		if len(doc.Routes) != 7 || len(doc.Upstreams) != 5 {
			t.Fatalf("listen %q changed the structure: %d routes, %d upstreams", listen, len(doc.Routes), len(doc.Upstreams))
		}
	})
}
