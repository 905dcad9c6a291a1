package waf

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
)

// engine is one compiled Coraza WAF: the CRS plus a configuration's
// settings. It is immutable after the build and safe for concurrent use
// (each request opens its own transaction), so every route and every
// runtime with the same settings shares one (DESIGN.md: state survives a
// reload where identity is the same).
type engine struct {
	waf   coraza.WAF
	rules int // rules loaded, for the log
}

// buildEngine compiles the SecLang text against the embedded CRS. It reads
// nothing from disk: the root file system is the CRS embedded in the binary.
func buildEngine(text string) (*engine, error) {
	w, err := coraza.NewWAF(coraza.NewWAFConfig().
		WithRootFS(coreruleset.FS).
		WithDirectives(text))
	if err != nil {
		return nil, fmt.Errorf("loading rules: %w", err)
	}
	e := &engine{waf: w}
	if c, ok := w.(experimental.WAFWithRules); ok {
		e.rules = c.RulesCount()
	}
	return e, nil
}

// Close releases what the WAF holds (audit log writers set by expert
// directives); the shared-state store calls it once no runtime uses it.
func (e *engine) Close() error {
	if c, ok := e.waf.(experimental.WAFCloser); ok {
		if err := c.Close(); err != nil {
			return fmt.Errorf("waf: closing engine: %w", err)
		}
	}
	return nil
}

// sharedKey is the engine's identity: the directives say everything that
// makes two engines differ, so equal text means one shared engine.
func sharedKey(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "waf|" + hex.EncodeToString(sum[:])
}
