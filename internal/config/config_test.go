package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// designMinimal is the minimal file from DESIGN.md, verbatim.
const designMinimal = `listeners:
  - address: ":8080"
routes:
  - match: { host: api.example.com, path: /v1/* }
    middleware:
      - headers: { response: { set: { X-Served-By: gatehouse } } }
    upstream: api
upstreams:
  api:
    targets: [ "10.0.0.5:8080", "http://10.0.0.6:8080" ]
`

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := parse([]byte(src), "test.yaml", testEnv)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestDesignMinimalConfig(t *testing.T) {
	t.Parallel()
	c := mustParse(t, designMinimal)
	r := c.Routes[0]
	if r.Name != "route#1" || r.Upstream != "api" || len(r.Middleware) != 1 || r.Middleware[0].Name != "headers" {
		t.Fatalf("route = %+v", r)
	}
	if got := c.Routes[0].Match.Host; len(got) != 1 || got[0] != "api.example.com" {
		t.Errorf("host = %v", got)
	}
	if c.Listeners[0].Name != ":8080" {
		t.Errorf("listener name = %q, want its address", c.Listeners[0].Name)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, designMinimal+`  slow:
    targets: [ "unix:/run/slow.sock" ]
    timeouts: { connect: 1s, total: 1m }
`)
	s := c.Server
	checks := []struct {
		name      string
		got, want any
	}{
		{"engine", s.Engine, EngineNative},
		{"read_header_timeout", s.ReadHeaderTimeout, Duration(10 * time.Second)},
		{"read_timeout", s.ReadTimeout, Duration(60 * time.Second)},
		{"idle_timeout", s.IdleTimeout, Duration(120 * time.Second)},
		{"max_header_bytes", s.MaxHeaderBytes, Size(64 << 10)},
		{"max_uri_bytes", s.MaxURIBytes, Size(8 << 10)},
		{"shutdown_timeout", s.ShutdownTimeout, Duration(30 * time.Second)},
		{"request_id.header", s.RequestID.Header, "X-Request-ID"},
		{"route preserve_host", *c.Routes[0].PreserveHost, true},
		{"route timeouts", c.Routes[0].Timeouts, Timeouts{Connect: Duration(5 * time.Second), ResponseHeader: Duration(5 * time.Minute), Idle: Duration(5 * time.Minute)}},
		{"policy", c.Upstreams["api"].Policy, "p2c_ewma"},
		{"max_idle_per_target", c.Upstreams["api"].MaxIdlePerTarget, 1024},
		{"idle_conn_timeout", c.Upstreams["api"].IdleConnTimeout, Duration(90 * time.Second)},
		{"upstream timeouts resolved", c.Upstreams["slow"].Timeouts, Timeouts{Connect: Duration(time.Second), ResponseHeader: Duration(5 * time.Minute), Idle: Duration(5 * time.Minute), Total: Duration(time.Minute)}},
		{"log level", c.Log.Level, "info"},
		{"log format", c.Log.Format, "json"},
		{"log output", c.Log.Output, "stderr"},
		{"access enabled", *c.Log.Access.Enabled, true},
		{"access output", c.Log.Access.Output, "stdout"},
	}
	for _, tt := range checks {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
			}
		})
	}
}

func TestTimeoutPrecedence(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `listeners: [ { address: "127.0.0.1:8080" } ]
routes:
  - upstream: ai
    timeouts: { response_header: 10m }
  - upstream: ai
  - respond: { status: 204 }
upstreams:
  ai:
    targets: [ "127.0.0.1:9000" ]
    timeouts: { connect: 2s, response_header: 3m, total: 30m }
`)
	tests := []struct {
		route int
		want  Timeouts
	}{
		{0, Timeouts{Connect: Duration(2 * time.Second), ResponseHeader: Duration(10 * time.Minute), Idle: DefaultIdleTimeoutUpstream, Total: Duration(30 * time.Minute)}},
		{1, Timeouts{Connect: Duration(2 * time.Second), ResponseHeader: Duration(3 * time.Minute), Idle: DefaultIdleTimeoutUpstream, Total: Duration(30 * time.Minute)}},
		{2, DefaultTimeouts()},
	}
	for _, tt := range tests {
		if got := c.Routes[tt.route].Timeouts; got != tt.want {
			t.Errorf("route %d timeouts = %+v, want %+v", tt.route, got, tt.want)
		}
	}
}

func TestValidConfigs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		check     func(t *testing.T, c *Config)
	}{
		{"env expansion and escape", `listeners: [ { address: "127.0.0.1:${GATEHOUSE_TEST_PORT}" } ]
routes: [ { match: { host: "${GATEHOUSE_TEST_HOST}" }, respond: { body: "$${LITERAL}" } } ]
`, func(t *testing.T, c *Config) {
			if c.Listeners[0].Address != "127.0.0.1:8080" || c.Routes[0].Match.Host[0] != "api.example.com" || c.Routes[0].Respond.Body != "${LITERAL}" {
				t.Errorf("got %+v %+v", c.Listeners[0], c.Routes[0])
			}
		}},
		{"env into a number", `listeners: [ { address: ":0" } ]
routes: [ { upstream: a } ]
upstreams: { a: { targets: ["127.0.0.1:1"], max_idle_per_target: "${GATEHOUSE_TEST_PORT}" } }
`, func(t *testing.T, c *Config) {
			if c.Upstreams["a"].MaxIdlePerTarget != 8080 {
				t.Errorf("max_idle_per_target = %d", c.Upstreams["a"].MaxIdlePerTarget)
			}
		}},
		{"anchors, merge keys and x- keys", `x-base: &base
  targets: ["127.0.0.1:9000"]
  timeouts: { connect: 1s }
listeners: [ { address: "[::1]:8443", tls: { cert: c.pem, key: k.pem } }, { address: "127.0.0.1:0" }, { address: "127.0.0.1:0" } ]
routes:
  - { match: { path: ["/a", "/b/*", "~^/c/[0-9]+$"], methods: [GET, PURGE], headers: { X-Env: "*", X-V: "~^v[12]$" }, query: { debug: "1" } }, upstream: one }
  - { match: { host: ["*.example.com", "10.0.0.1", "[::1]"] }, upstream: two, preserve_host: false }
  - { redirect: { to: "https://{host}{uri}", status: 308 } }
  - { static: { root: /srv/www, browse: true, strip_prefix: "" } }
upstreams:
  one: *base
  two:
    <<: *base
    timeouts: { connect: 3s }
server:
  trusted_proxies: [ 10.0.0.0/8, "::1", 192.0.2.7 ]
  max_header_bytes: 1.5MB
log: { level: debug, format: text, output: /var/log/gatehouse.log, access: { enabled: false } }
`, func(t *testing.T, c *Config) {
			if c.Upstreams["one"].Timeouts.Connect != Duration(time.Second) || c.Upstreams["two"].Timeouts.Connect != Duration(3*time.Second) {
				t.Errorf("upstreams = %+v", c.Upstreams)
			}
			if len(c.Upstreams["two"].Targets) != 1 || *c.Routes[1].PreserveHost {
				t.Errorf("merge or preserve_host lost: %+v %+v", c.Upstreams["two"], c.Routes[1])
			}
			if c.Server.MaxHeaderBytes != 3<<19 || *c.Log.Access.Enabled || c.Routes[3].Static.Index[0] != "index.html" {
				t.Errorf("got %+v", c)
			}
			if c.Routes[2].Redirect.Status != 308 {
				t.Errorf("redirect = %+v", c.Routes[2].Redirect)
			}
		}},
		{"defaults of actions", `listeners: [ { address: ":80" } ]
routes: [ { redirect: { to: "https://x" } }, { respond: { body: hi } } ]
`, func(t *testing.T, c *Config) {
			if c.Routes[0].Redirect.Status != 302 || c.Routes[1].Respond.Status != 200 {
				t.Errorf("got %+v %+v", c.Routes[0].Redirect, c.Routes[1].Respond)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, mustParse(t, tt.src))
		})
	}
}

func TestPos(t *testing.T) {
	t.Parallel()
	c := mustParse(t, designMinimal)
	tests := []struct{ path, want string }{
		{"$.routes[0].match.path", "test.yaml:4:43"},
		{"$.routes[0].match.path[0]", "test.yaml:4:43"},
		{"$.routes[0].middleware[0].headers", "test.yaml:6:9"},
		{"$.routes[0].upstream", "test.yaml:7:15"},
		{"$.upstreams.api", "test.yaml:9:3"},
		{"$.upstreams.api.targets[1]", "test.yaml:10:33"},
		{"$.routes[0].redirect.to", "test.yaml:4:5"}, // missing: the route
		{"$.routes[7]", "test.yaml:3:1"},
		{"nonsense", "test.yaml:1:1"},
	}
	for _, tt := range tests {
		if got := c.Pos(tt.path).String(); got != tt.want {
			t.Errorf("Pos(%q) = %s, want %s", tt.path, got, tt.want)
		}
	}
	if got := (&Config{File: "quick"}).Pos("$.routes[0]"); got != (Pos{File: "quick"}) {
		t.Errorf("code-built Pos = %+v", got)
	}
}

func TestChildPathRoundTrip(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `listeners: [ { address: ":80" } ]
routes: [ { upstream: "my.api" } ]
upstreams:
  "my.api": { targets: [ "127.0.0.1:1" ] }
`)
	if got := c.Pos(ChildPath("$.upstreams", "my.api") + ".targets").String(); got != "test.yaml:4:15" {
		t.Errorf("Pos = %s", got)
	}
}

// mwSettings is a middleware-like settings struct.
type mwTest struct {
	Max     Size              `yaml:"max"`
	Timeout Duration          `yaml:"timeout"`
	Set     map[string]string `yaml:"set"`
	Paths   StringList        `yaml:"paths"`
}

func TestMiddlewareDecode(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `listeners: [ { address: ":80" } ]
routes:
  - respond: { status: 200 }
    middleware:
      - test: { max: 10MB, timeout: 5s, set: { X-A: "${GATEHOUSE_TEST_HOST}" }, paths: /x }
      - test:
          maxx: 1
          timeout: 5
      - test:
`)
	mws := c.Routes[0].Middleware
	var ok mwTest
	if err := mws[0].Decode(&ok); err != nil {
		t.Fatal(err)
	}
	if ok.Max != 10<<20 || ok.Timeout != Duration(5*time.Second) || ok.Set["X-A"] != "api.example.com" || ok.Paths[0] != "/x" {
		t.Errorf("decoded %+v", ok)
	}
	var bad mwTest
	err := mws[1].Decode(&bad)
	want := `test.yaml:7:11: unknown key "maxx" (hint: did you mean "max"?)
test.yaml:8:20: duration 5 has no unit (hint: ` + durationHint + `)`
	if err == nil || err.Error() != want {
		t.Errorf("Decode error =\n%v\nwant\n%s", err, want)
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Errorf("error is %T, want ErrorList", err)
	}
	if got := mws[1].Pos().String(); got != "test.yaml:6:9" {
		t.Errorf("Pos = %s", got)
	}
	if mws[1].Path != "$.routes[0].middleware[1].test" {
		t.Errorf("Path = %q", mws[1].Path)
	}
	var none mwTest
	if err := mws[2].Decode(&none); err != nil || none.Max != 0 {
		t.Errorf("empty settings: %v %+v", err, none)
	}
	if err := mws[0].Decode(nil); err == nil {
		t.Error("Decode(nil) succeeded")
	}
}

func TestNewMiddlewareSpec(t *testing.T) {
	t.Parallel()
	spec := NewMiddlewareSpec("test", mwTest{Max: 2 * MiB, Timeout: Duration(time.Minute), Paths: StringList{"/a"}})
	var got mwTest
	if err := spec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Max != 2*MiB || got.Timeout != Duration(time.Minute) || got.Paths[0] != "/a" {
		t.Errorf("decoded %+v", got)
	}
	spec = NewMiddlewareSpec("test", map[string]any{"max": "1KB", "bogus": 1})
	err := spec.Decode(&got)
	if err == nil || !strings.Contains(err.Error(), `middleware "test": bogus: unknown key "bogus"`) {
		t.Errorf("error = %v", err)
	}
	if err := NewMiddlewareSpec("test", nil).Decode(&got); err != nil {
		t.Errorf("nil settings: %v", err)
	}
}

func TestNormalizeCodeBuilt(t *testing.T) {
	t.Parallel()
	c := &Config{
		Listeners: []Listener{{Address: "127.0.0.1:0"}},
		Routes:    []Route{{Upstream: "api"}, {}},
		Upstreams: map[string]Upstream{"api": {Targets: []string{"127.0.0.1:9000"}}},
	}
	err := c.Normalize()
	want := `config: route "route#2" does nothing: it has no upstream, redirect, respond or static (hint: add one of upstream: NAME, redirect: { to: URL }, respond: { status: 200 } or static: { root: DIR })`
	if err == nil || err.Error() != want {
		t.Fatalf("Normalize = %v", err)
	}
	c.Routes = c.Routes[:1]
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	if c.Routes[0].Timeouts.Connect != DefaultConnectTimeout {
		t.Errorf("defaults not applied: %+v", c.Routes[0])
	}
	if err := c.Normalize(); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(designMinimal), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil || c.File != path {
		t.Fatalf("Load = %v, %v", c, err)
	}
	_, err = Load(path + ".missing")
	if err == nil || !strings.Contains(err.Error(), "cannot read the configuration: no such file or directory") {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestAliasBomb(t *testing.T) {
	t.Parallel()
	src := "x-a: &a [1,1,1,1,1,1,1,1,1,1]\n"
	prev := "a"
	for i := range 8 {
		name := string(rune('b' + i))
		src += "x-" + name + ": &" + name + " [" + strings.Repeat("*"+prev+",", 9) + "*" + prev + "]\n"
		prev = name
	}
	src += "listeners: [ { address: \":80\" } ]\nroutes: [ { respond: {}, middleware: [ { bomb: *" + prev + " } ] } ]\n"
	c := mustParse(t, src)
	done := make(chan error, 1)
	go func() {
		var v any
		done <- c.Routes[0].Middleware[0].Decode(&v)
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("alias bomb not bounded")
	}
}

// TestExamples parses every file in examples/ (DESIGN.md: each example is
// loaded by a test so that none rots).
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// Examples reference ${...} for secrets; give every name a value.
			c, err := parse(data, f, func(string) (string, bool) { return "an-example-secret-of-32-characters", true })
			if err != nil {
				t.Fatalf("%v", err)
			}
			for _, r := range c.Routes {
				for _, m := range r.Middleware {
					var settings any
					if err := m.Decode(&settings); err != nil {
						t.Errorf("%s: %v", m.Name, err)
					}
				}
			}
		})
	}
}
