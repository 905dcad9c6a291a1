package config

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// mwSettings is what MiddlewareSpec.raw holds: the settings node of a parsed
// file (with its source, for positions and aliases), or a Go value for a
// spec built in code.
type mwSettings struct {
	src   *source
	node  ast.Node // nil when the entry had no settings ("- name:")
	pos   Pos      // of the middleware name
	value any      // code-built only
}

const middlewareHint = `write each entry as "- name: { settings }", e.g. "- body_limit: { max: 10MB }"; one middleware per "-"`

// decodeNode reads a chain entry: a mapping with exactly one key, the
// middleware name, whose value holds its settings. The settings are kept as
// a node; the middleware decodes them itself (Decode). The name is not
// checked here: the runtime checks it against the registry.
func (m *MiddlewareSpec) decodeNode(d *decoder, n ast.Node, path string) {
	kvs := entries(n)
	if _, isMap := n.(*ast.MappingNode); kvs == nil && !isMap {
		d.fail(n, path, middlewareHint, "a middleware entry must be a mapping from the middleware name to its settings, found %s", describe(n))
		return
	}
	if len(kvs) == 0 {
		d.fail(n, path, middlewareHint, "empty middleware entry")
		return
	}
	if len(kvs) != 1 || kvs[0].Key.IsMergeKey() {
		keys := make([]string, len(kvs))
		for i, kv := range kvs {
			keys[i] = keyText(kv.Key)
		}
		d.fail(n, path, middlewareHint+`; did you forget a "-" or indent settings too little?`,
			"a middleware entry has exactly one key, the middleware name; found %d (%s)", len(kvs), strings.Join(keys, ", "))
		return
	}
	kv := kvs[0]
	name := keyText(kv.Key)
	set := &mwSettings{src: d.src, pos: d.src.pos(kv.Key)}
	if v, _ := d.src.resolve(kv.Value); v != nil {
		if _, null := v.(*ast.NullNode); !null {
			set.node = kv.Value
		}
	}
	*m = MiddlewareSpec{Name: name, Path: ChildPath(path, name), raw: set}
}

// NewMiddlewareSpec builds a chain entry in code (quick mode). settings is a
// Go value (a map or a struct with yaml tags; nil for none); Decode encodes
// it to YAML and decodes that, so a middleware sees exactly what it would
// see from a file. Duration and Size fields encode as "30s" and "10MiB".
func NewMiddlewareSpec(name string, settings any) MiddlewareSpec {
	m := MiddlewareSpec{Name: name}
	if settings != nil {
		m.raw = &mwSettings{value: settings}
	}
	return m
}

// Pos returns the position of the middleware's name in the file, or Pos{}
// for a spec built in code.
func (m MiddlewareSpec) Pos() Pos {
	if s, ok := m.raw.(*mwSettings); ok && s.src != nil {
		return s.pos
	}
	return Pos{}
}

// Decode stores the middleware's settings into v, a non-nil pointer
// (usually to the middleware's config struct), strictly: an unknown key, a
// wrong type, a bad duration or size is an error at its position in the
// original file, with a hint (valid keys for an unknown one). Duration,
// Size and StringList fields decode as in the main config. An entry without
// settings leaves v untouched. The error is an ErrorList; Decode may be
// called more than once, and from several goroutines.
func (m MiddlewareSpec) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return ErrorList{Errorf(m.Pos(), "", "middleware %q: Decode needs a non-nil pointer, got %T", m.Name, v)}
	}
	s, _ := m.raw.(*mwSettings)
	if s == nil {
		return nil
	}
	if s.src == nil {
		return m.decodeValue(s.value, rv)
	}
	if s.node == nil {
		return nil
	}
	d := newDecoder(s.src)
	d.decode(s.node, m.Path, rv.Elem())
	if l := d.errs.sorted(); len(l) > 0 {
		return l
	}
	return nil
}

// decodeValue decodes a code-built spec's Go value: it is encoded to YAML
// and decoded like a file's, with messages naming the middleware since
// there is no position to point at.
func (m MiddlewareSpec) decodeValue(value any, rv reflect.Value) error {
	data, err := yaml.Marshal(value)
	if err != nil {
		return ErrorList{Errorf(Pos{}, "", "middleware %q: settings cannot be encoded: %s", m.Name, plainYAMLError(err))}
	}
	src, err := parseSource(data, "", nil) // nil: values built in code are not expanded
	if err != nil {
		return ErrorList{Errorf(Pos{}, "", "middleware %q: settings cannot be re-read: %v", m.Name, err)}
	}
	d := newDecoder(src)
	if src.root != nil {
		d.decode(src.root, "$", rv.Elem())
	}
	if len(d.errs) == 0 {
		return nil
	}
	out := make(ErrorList, len(d.errs))
	for i, e := range d.errs {
		out[i] = &Error{Msg: fmt.Sprintf("middleware %q: %s: %s", m.Name, strings.TrimPrefix(e.path, "$."), e.err.Msg), Hint: e.err.Hint}
	}
	return out
}
