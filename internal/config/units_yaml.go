package config

import (
	"errors"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// decodeNode reads a duration string. A bare number gets a hint, since YAML
// would otherwise make "30" mean 30 nanoseconds.
func (dur *Duration) decodeNode(d *decoder, n ast.Node, path string) {
	switch x := n.(type) {
	case *ast.NullNode:
		*dur = 0
		return
	case *ast.IntegerNode, *ast.FloatNode:
		text := n.GetToken().Value
		if text == "0" {
			*dur = 0
			return
		}
		d.fail(n, path, durationHint, "duration %s has no unit", text)
		return
	case *ast.StringNode:
		v, err := ParseDuration(x.Value)
		if err != nil {
			d.fail(n, path, durationHint, "%s", unitMessage(err, ErrBadDuration))
			return
		}
		*dur = v
		return
	}
	d.fail(n, path, durationHint, "expected a duration, found %s", describe(n))
}

// decodeNode reads a size: a whole number of bytes or a string with a unit.
func (s *Size) decodeNode(d *decoder, n ast.Node, path string) {
	switch x := n.(type) {
	case *ast.NullNode:
		*s = 0
		return
	case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode:
		text := n.GetToken().Value
		if sn, ok := x.(*ast.StringNode); ok {
			text = sn.Value
		}
		v, err := ParseSize(text)
		if err != nil {
			d.fail(n, path, sizeHint, "%s", unitMessage(err, ErrBadSize))
			return
		}
		*s = v
		return
	}
	d.fail(n, path, sizeHint, "expected a size, found %s", describe(n))
}

// unitMessage turns `invalid size: "x" is not a size` into `"x" is not a
// size`: the position already says which field it is.
func unitMessage(err, sentinel error) string {
	msg := err.Error()
	if errors.Is(err, sentinel) {
		msg = strings.TrimPrefix(msg, sentinel.Error()+": ")
	}
	return msg
}

// decodeNode reads one string or a list of strings.
func (l *StringList) decodeNode(d *decoder, n ast.Node, path string) {
	switch x := n.(type) {
	case *ast.NullNode:
		*l = nil
	case *ast.SequenceNode:
		out := make(StringList, 0, len(x.Values))
		for i, item := range x.Values {
			var s string
			d.decode(item, IndexPath(path, i), reflectValueOf(&s))
			out = append(out, s)
		}
		*l = out
	default:
		if s, ok := d.scalarText(n, path, "a string or a list of strings"); ok {
			*l = StringList{s}
		}
	}
}
