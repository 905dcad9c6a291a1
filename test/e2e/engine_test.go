package e2e

import (
	"os"
	"strings"

	"github.com/goccy/go-yaml"
)

// E2E_ENGINE selects the HTTP/1.1 engine every test's configuration runs
// on ("nethttp" or "native"); unset leaves each configuration as written.
// `make test` runs the suite once per engine, so every end-to-end and
// hostile-input test covers both paths.
var e2eEngine = os.Getenv("E2E_ENGINE")

// withEngine sets server.engine in cfg to E2E_ENGINE. Without a server
// section the setting is appended, so every line keeps its position (the
// reload tests assert error positions); otherwise the document is
// re-encoded with the setting added. A configuration that does not parse
// is left as it is.
func withEngine(cfg string) string {
	if e2eEngine == "" {
		return cfg
	}
	if !hasTopLevelKey(cfg, "server") {
		return strings.TrimRight(cfg, "\n") + "\nserver: { engine: " + e2eEngine + " }\n"
	}
	var doc yaml.MapSlice
	if err := yaml.Unmarshal([]byte(cfg), &doc); err != nil || doc == nil {
		return cfg
	}
	found := false
	for i, item := range doc {
		if item.Key != "server" {
			continue
		}
		found = true
		server, ok := item.Value.(map[string]any)
		if !ok {
			server = map[string]any{}
		}
		server["engine"] = e2eEngine
		doc[i].Value = server
	}
	if !found {
		doc = append(doc, yaml.MapItem{Key: "server", Value: map[string]any{"engine": e2eEngine}})
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return cfg
	}
	return string(out)
}

// hasTopLevelKey reports whether a line of cfg starts with "key:".
func hasTopLevelKey(cfg, key string) bool {
	for _, line := range strings.Split(cfg, "\n") {
		if strings.HasPrefix(line, key+":") {
			return true
		}
	}
	return false
}
