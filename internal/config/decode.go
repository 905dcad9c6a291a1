package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// decoder walks the YAML AST into typed Go values, strictly: unknown keys
// and wrong types are errors with positions and hints. Unlike a decoder
// that stops at the first problem, it records every problem and goes on, so
// one run shows them all.
type decoder struct {
	src    *source
	errs   errs
	budget int // nodes left to visit; bounds alias bombs
	// extensions lets top-level keys starting with "x-" through unread:
	// they hold anchors for the rest of the file ("x-defaults: &d ...").
	extensions bool
}

// maxNodes bounds the nodes one decode visits, aliases expanded.
const maxNodes = 1_000_000

// nodeDecoder is implemented by types that decode themselves from a node
// (Duration, Size, StringList, MiddlewareSpec).
type nodeDecoder interface {
	decodeNode(d *decoder, n ast.Node, path string)
}

func reflectValueOf(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

func newDecoder(src *source) *decoder { return &decoder{src: src, budget: maxNodes} }

func (d *decoder) fail(n ast.Node, path, hint, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.HasPrefix(msg, "expected ") {
		if k := lastKey(path); k != "" {
			msg = k + ": " + msg // "priority: expected a whole number, ..."
		}
	}
	d.errs.add(d.src.pos(n), path, hint, "%s", msg)
}

// lastKey is the last key of a path with any index after it:
// "$.server.trusted_proxies[0]" → "trusted_proxies[0]".
func lastKey(path string) string {
	i := strings.LastIndexByte(path, '.')
	if i < 0 || i == len(path)-1 {
		return ""
	}
	return strings.Trim(path[i+1:], "'")
}

var (
	nodeDecoderType     = reflect.TypeFor[nodeDecoder]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	timeDurationType    = reflect.TypeFor[time.Duration]()
)

// goccyUnmarshaler reports whether t (a pointer type) brings its own goccy
// unmarshaler, which then gets the node.
func goccyUnmarshaler(t reflect.Type) bool {
	for _, i := range []reflect.Type{
		reflect.TypeFor[yaml.BytesUnmarshaler](),
		reflect.TypeFor[yaml.BytesUnmarshalerContext](),
		reflect.TypeFor[yaml.InterfaceUnmarshaler](),
		reflect.TypeFor[yaml.InterfaceUnmarshalerContext](),
		reflect.TypeFor[yaml.NodeUnmarshaler](),
		reflect.TypeFor[yaml.NodeUnmarshalerContext](),
	} {
		if t.Implements(i) {
			return true
		}
	}
	return false
}

// decode stores node n (at YAML path) into v, which must be settable.
func (d *decoder) decode(n ast.Node, path string, v reflect.Value) {
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.fail(n, path, "remove aliases that expand into aliases", "the document is too large once its aliases are expanded")
		}
		return
	}
	r, msg := d.src.resolve(n)
	if msg != "" {
		d.fail(n, path, "", "%s", msg)
		return
	}
	n = r
	if n == nil {
		return
	}
	pt := v.Addr().Type()
	switch {
	case pt.Implements(nodeDecoderType):
		v.Addr().Interface().(nodeDecoder).decodeNode(d, n, path)
		return
	case v.Type() == timeDurationType:
		var dd Duration
		dd.decodeNode(d, n, path)
		v.SetInt(int64(dd))
		return
	case goccyUnmarshaler(pt):
		if err := yaml.NodeToValue(n, v.Addr().Interface(), yaml.Strict()); err != nil {
			d.fail(n, path, "", "%s", plainYAMLError(err))
		}
		return
	case pt.Implements(textUnmarshalerType):
		s, ok := d.scalarText(n, path, "a string")
		if !ok {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.fail(n, path, "", "invalid value %q: %v", s, err)
		}
		return
	}
	if _, null := n.(*ast.NullNode); null {
		v.SetZero() // "key:" with nothing: the zero value, defaults apply
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, path, v.Elem())
	case reflect.Struct:
		d.decodeStruct(n, path, v)
	case reflect.Map:
		d.decodeMap(n, path, v)
	case reflect.Slice:
		d.decodeSlice(n, path, v)
	case reflect.String:
		if s, ok := d.scalarText(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		d.decodeBool(n, path, v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		d.decodeInt(n, path, v)
	case reflect.Float32, reflect.Float64:
		d.decodeFloat(n, path, v)
	case reflect.Interface:
		if v.NumMethod() != 0 {
			d.fail(n, path, "", "cannot decode into %s", v.Type())
			return
		}
		if g := d.generic(n, path); g != nil {
			v.Set(reflect.ValueOf(g))
		}
	default:
		d.fail(n, path, "", "cannot decode into %s", v.Type())
	}
}

// pair is one key/value of a mapping, merge keys already applied.
type pair struct {
	key   string
	kNode ast.Node
	value ast.Node
}

// pairs lists the entries of mapping n; explicit keys override those merged
// in with "<<". It reports an error and returns ok=false when n is not a
// mapping.
func (d *decoder) pairs(n ast.Node, path, want string, hint string) ([]pair, bool) {
	if _, isMap := n.(*ast.MappingNode); !isMap {
		if _, isKV := n.(*ast.MappingValueNode); !isKV {
			d.fail(n, path, hint, "expected %s, found %s", want, describe(n))
			return nil, false
		}
	}
	var out []pair
	seen := map[string]bool{}
	var merges []ast.Node
	for _, kv := range entries(n) {
		if kv.Key.IsMergeKey() {
			merges = append(merges, kv.Value)
			continue
		}
		k := keyText(kv.Key)
		seen[k] = true
		out = append(out, pair{key: k, kNode: kv.Key, value: kv.Value})
	}
	for _, m := range merges {
		m, msg := d.src.resolve(m)
		if msg != "" || m == nil {
			d.fail(n, path, "", "%s", cmpOr(msg, "empty merge"))
			continue
		}
		srcs := []ast.Node{m}
		if seq, ok := m.(*ast.SequenceNode); ok {
			srcs = seq.Values
		}
		for _, s := range srcs {
			s, _ = d.src.resolve(s)
			ps, ok := d.pairs(s, path, "a mapping to merge with <<", "")
			if !ok {
				continue
			}
			for _, p := range ps {
				if !seen[p.key] {
					seen[p.key] = true
					out = append(out, p)
				}
			}
		}
	}
	return out, true
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// field is a YAML key of a struct.
type field struct {
	name  string
	index []int
}

// fieldsOf lists the YAML keys of struct type t: the yaml tag name, or the
// lower-cased field name; ",inline" and untagged embedded structs are
// flattened; "-" and unexported fields are skipped.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		inline := strings.Contains(opts, "inline") || (f.Anonymous && tag == "")
		if inline && f.Type.Kind() == reflect.Struct {
			for _, sub := range fieldsOf(f.Type) {
				out = append(out, field{name: sub.name, index: append([]int{i}, sub.index...)})
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, field{name: name, index: []int{i}})
	}
	return out
}

func fieldNames(fs []field) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	sort.Strings(names)
	return names
}

func (d *decoder) decodeStruct(n ast.Node, path string, v reflect.Value) {
	fs := fieldsOf(v.Type())
	names := fieldNames(fs)
	ps, ok := d.pairs(n, path, "a mapping", "this takes settings: "+strings.Join(names, ", "))
	if !ok {
		return
	}
	for _, p := range ps {
		var f *field
		for i := range fs {
			if fs[i].name == p.key {
				f = &fs[i]
				break
			}
		}
		child := ChildPath(path, p.key)
		if f == nil && d.extensions && path == "$" && strings.HasPrefix(p.key, "x-") {
			continue
		}
		if f == nil {
			d.errs = append(d.errs, located{
				err:        Errorf(d.src.pos(p.kNode), suggest(p.key, names, "valid keys here"), "unknown key %q", p.key),
				path:       child,
				unknownKey: true,
				suggestion: closest(p.key, names),
			})
			continue
		}
		d.decode(p.value, child, v.FieldByIndex(f.index))
	}
}

func (d *decoder) decodeMap(n ast.Node, path string, v reflect.Value) {
	ps, ok := d.pairs(n, path, "a mapping", "")
	if !ok {
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.fail(n, path, "", "cannot decode into %s", t)
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(ps)))
	}
	for _, p := range ps {
		ev := reflect.New(t.Elem()).Elem()
		d.decode(p.value, ChildPath(path, p.key), ev)
		v.SetMapIndex(reflect.ValueOf(p.key).Convert(t.Key()), ev)
	}
}

func (d *decoder) decodeSlice(n ast.Node, path string, v reflect.Value) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		hint := `write a list: [ a, b ], or one "- item" per line`
		d.fail(n, path, hint, "expected a list, found %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
	for i, item := range seq.Values {
		d.decode(item, IndexPath(path, i), out.Index(i))
	}
	v.Set(out)
}

// scalarText returns the text of a scalar. Numbers and booleans are read as
// written ("8080", "true"): a header value "2" is a string here.
func (d *decoder) scalarText(n ast.Node, path, want string) (string, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.LiteralNode:
		return x.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	d.fail(n, path, "", "expected %s, found %s", want, describe(n))
	return "", false
}

func (d *decoder) decodeBool(n ast.Node, path string, v reflect.Value) {
	switch x := n.(type) {
	case *ast.BoolNode:
		v.SetBool(x.Value)
		return
	case *ast.StringNode:
		if d.src.expanded[n] {
			if b, err := strconv.ParseBool(strings.TrimSpace(x.Value)); err == nil {
				v.SetBool(b)
				return
			}
		}
	}
	d.fail(n, path, "write true or false", "expected true or false, found %s", describe(n))
}

func (d *decoder) decodeInt(n ast.Node, path string, v reflect.Value) {
	text := ""
	switch x := n.(type) {
	case *ast.IntegerNode:
		text = fmt.Sprint(x.Value)
	case *ast.StringNode:
		if d.src.expanded[n] {
			text = strings.TrimSpace(x.Value)
		}
	}
	if text == "" {
		d.fail(n, path, "", "expected a whole number, found %s", describe(n))
		return
	}
	if v.CanInt() {
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.fail(n, path, "", "%s is not a whole number in range", text)
			return
		}
		v.SetInt(i)
		return
	}
	u, err := strconv.ParseUint(text, 10, 64)
	if err != nil || v.OverflowUint(u) {
		d.fail(n, path, "", "%s is not a non-negative whole number in range", text)
		return
	}
	v.SetUint(u)
}

func (d *decoder) decodeFloat(n ast.Node, path string, v reflect.Value) {
	text := ""
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		text = n.GetToken().Value
	case *ast.StringNode:
		if d.src.expanded[n] {
			text = strings.TrimSpace(n.(*ast.StringNode).Value)
		}
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(text, "_", ""), 64)
	if text == "" || err != nil || math.IsNaN(f) {
		d.fail(n, path, "", "expected a number, found %s", describe(n))
		return
	}
	v.SetFloat(f)
}

// generic decodes n into map[string]any, []any, string, int64, uint64,
// float64, bool or nil (for fields typed any).
func (d *decoder) generic(n ast.Node, path string) any {
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.fail(n, path, "remove aliases that expand into aliases", "the document is too large once its aliases are expanded")
		}
		return nil
	}
	n, msg := d.src.resolve(n)
	if msg != "" {
		d.fail(n, path, "", "%s", msg)
		return nil
	}
	switch x := n.(type) {
	case nil, *ast.NullNode:
		return nil
	case *ast.MappingNode, *ast.MappingValueNode:
		ps, _ := d.pairs(n, path, "a mapping", "")
		m := make(map[string]any, len(ps))
		for _, p := range ps {
			m[p.key] = d.generic(p.value, ChildPath(path, p.key))
		}
		return m
	case *ast.SequenceNode:
		l := make([]any, len(x.Values))
		for i, item := range x.Values {
			l[i] = d.generic(item, IndexPath(path, i))
		}
		return l
	case *ast.StringNode:
		return x.Value
	case *ast.LiteralNode:
		return x.Value.Value
	case *ast.IntegerNode:
		return x.Value
	case *ast.FloatNode:
		return x.Value
	case *ast.BoolNode:
		return x.Value
	}
	return n.GetToken().Value
}

// describe names what a node is, for "expected X, found Y".
func describe(n ast.Node) string {
	switch x := n.(type) {
	case nil, *ast.NullNode:
		return "nothing"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return "the string " + strconv.Quote(truncate(x.Value))
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + n.GetToken().Value
	case *ast.BoolNode:
		return "the boolean " + n.GetToken().Value
	}
	return "a " + strings.ToLower(n.Type().String())
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
