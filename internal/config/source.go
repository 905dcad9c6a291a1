package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// source is the parsed document behind a Config: the AST (with ${NAME}
// references already expanded in its scalars) and what is needed to turn a
// node or a YAML path into a file position.
type source struct {
	file string
	data []byte
	root ast.Node // document body; nil for an empty document
	// anchors by name, in file order (a name may be redefined; an alias
	// refers to the last definition before it).
	anchors map[string][]*ast.AnchorNode
	// expanded marks scalars that held a ${NAME} reference: such a string may
	// feed a number or a boolean ("max_idle_per_target: ${IDLE}").
	expanded map[ast.Node]bool
	// envErrs are the ${NAME} problems found while expanding.
	envErrs errs
}

// maxAliasDepth bounds alias chains (an alias of an alias of ...).
const maxAliasDepth = 64

// resolve strips tags and anchors and follows aliases. It returns nil and a
// message when an alias names no anchor.
func (s *source) resolve(n ast.Node) (ast.Node, string) {
	for range maxAliasDepth {
		switch x := n.(type) {
		case *ast.TagNode:
			n = x.Value
		case *ast.AnchorNode:
			n = x.Value
		case *ast.AliasNode:
			name := x.Value.GetToken().Value
			var found *ast.AnchorNode
			for _, a := range s.anchors[name] {
				if a.GetToken().Position.Offset < x.GetToken().Position.Offset {
					found = a
				}
			}
			if found == nil {
				return nil, fmt.Sprintf("alias *%s refers to no anchor &%s defined before it", name, name)
			}
			n = found.Value
		default:
			return n, ""
		}
	}
	return nil, "aliases nest too deeply (is an alias inside its own anchor?)"
}

// pos returns the file position of n (its first key for a block mapping).
func (s *source) pos(n ast.Node) Pos {
	if s == nil || n == nil {
		return Pos{File: s.fileName()}
	}
	switch x := n.(type) {
	case *ast.MappingNode:
		if !x.IsFlowStyle && len(x.Values) > 0 {
			return s.pos(x.Values[0])
		}
	case *ast.MappingValueNode:
		return s.pos(x.Key)
	case *ast.LiteralNode:
		return s.tokenPos(x.Start.Position.Line, x.Start.Position.Column)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return Pos{File: s.file}
	}
	return s.tokenPos(tk.Position.Line, tk.Position.Column)
}

func (s *source) tokenPos(line, col int) Pos {
	return Pos{File: s.file, Line: line, Col: col}
}

func (s *source) fileName() string {
	if s == nil {
		return ""
	}
	return s.file
}

// entries returns the key/value pairs of a mapping node, or nil.
func entries(n ast.Node) []*ast.MappingValueNode {
	switch x := n.(type) {
	case *ast.MappingNode:
		return x.Values
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{x}
	}
	return nil
}

// isCollection reports whether n is a mapping or a list: its key says
// better where it is than its first token (which for a block collection is
// on a later line).
func isCollection(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return true
	}
	return false
}

// Pos returns the position of the node at a YAML path such as
// "$.routes[2].match.path" or "$.upstreams.'my.api'.targets[0]" (keys with
// '.', '[', ']', '\” or '*' are quoted, see ChildPath). For a scalar it is
// the value's position, for a mapping or list that of its key. When
// the path goes further than the document, the deepest node that exists is
// used, so an error about a missing field points at its parent. A config
// built in code (no document) gives Pos{File: c.File}.
func (c *Config) Pos(path string) Pos {
	if c == nil || c.src == nil {
		if c == nil {
			return Pos{}
		}
		return Pos{File: c.File}
	}
	return c.src.pathPos(path)
}

func (s *source) pathPos(path string) Pos {
	root := Pos{File: s.file, Line: 1, Col: 1}
	if s.root == nil {
		return root
	}
	segs, ok := splitPath(path)
	if !ok {
		return root
	}
	n, _ := s.resolve(s.root)
	best := s.pos(n)
	for _, seg := range segs {
		if n == nil {
			break
		}
		if seg.key != nil {
			kv := s.lookupKey(n, *seg.key, 0)
			if kv == nil {
				break
			}
			keyPos := s.pos(kv.Key)
			n, _ = s.resolve(kv.Value)
			if n == nil || isCollection(n) {
				best = keyPos
			} else {
				best = s.pos(kv.Value)
			}
			continue
		}
		seq, isSeq := n.(*ast.SequenceNode)
		if !isSeq || seg.index >= len(seq.Values) {
			break
		}
		n, _ = s.resolve(seq.Values[seg.index])
		best = s.pos(seq.Values[seg.index])
	}
	return best
}

// lookupKey finds key in mapping n, looking into merge keys ("<<: *base")
// when it is not written directly.
func (s *source) lookupKey(n ast.Node, key string, depth int) *ast.MappingValueNode {
	if depth > maxAliasDepth {
		return nil
	}
	var merges []ast.Node
	for _, kv := range entries(n) {
		if kv.Key.IsMergeKey() {
			merges = append(merges, kv.Value)
			continue
		}
		if keyText(kv.Key) == key {
			return kv
		}
	}
	for _, m := range merges {
		m, _ = s.resolve(m)
		srcs := []ast.Node{m}
		if seq, ok := m.(*ast.SequenceNode); ok {
			srcs = seq.Values
		}
		for _, src := range srcs {
			src, _ = s.resolve(src)
			if kv := s.lookupKey(src, key, depth+1); kv != nil {
				return kv
			}
		}
	}
	return nil
}

// keyText is the text of a mapping key.
func keyText(k ast.MapKeyNode) string {
	switch x := k.(type) {
	case *ast.StringNode:
		return x.Value
	case *ast.MappingKeyNode:
		if x.Value != nil {
			return x.Value.GetToken().Value
		}
	}
	if tk := k.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

type pathSeg struct {
	key   *string
	index int
}

// splitPath parses "$.a.'b.c'[3]" into segments.
func splitPath(p string) ([]pathSeg, bool) {
	if !strings.HasPrefix(p, "$") {
		return nil, false
	}
	var segs []pathSeg
	for i := 1; i < len(p); {
		switch p[i] {
		case '.':
			i++
			var key string
			if i < len(p) && p[i] == '\'' {
				var b strings.Builder
				i++
				for i < len(p) && p[i] != '\'' {
					if p[i] == '\\' && i+1 < len(p) {
						i++
					}
					b.WriteByte(p[i])
					i++
				}
				if i >= len(p) {
					return nil, false
				}
				i++ // closing quote
				key = b.String()
			} else {
				j := i
				for j < len(p) && p[j] != '.' && p[j] != '[' {
					j++
				}
				key, i = p[i:j], j
			}
			segs = append(segs, pathSeg{key: &key})
		case '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return nil, false
			}
			n, err := strconv.Atoi(p[i+1 : i+j])
			if err != nil || n < 0 {
				return nil, false
			}
			segs = append(segs, pathSeg{index: n})
			i += j + 1
		default:
			return nil, false
		}
	}
	return segs, true
}

// ChildPath returns the YAML path of key under parent, quoting the key when
// it holds characters that paths use ("$.upstreams" + "my.api" →
// "$.upstreams.'my.api'"). Config.Pos reads such paths.
func ChildPath(parent, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]'*$\\ ") {
		return parent + ".'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(key) + "'"
	}
	return parent + "." + key
}

// IndexPath returns the YAML path of item i of the list at parent.
func IndexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// parentPath returns the path of the object containing path ("$.a.b[2].c" →
// "$.a.b[2]"); "$" for top-level keys.
func parentPath(path string) string {
	segs, ok := splitPath(path)
	if !ok || len(segs) == 0 {
		return "$"
	}
	p := "$"
	for _, s := range segs[:len(segs)-1] {
		if s.key != nil {
			p = ChildPath(p, *s.key)
		} else {
			p = IndexPath(p, s.index)
		}
	}
	return p
}
