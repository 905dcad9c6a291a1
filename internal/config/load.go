package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Load reads the file at path and parses it with Parse. A file that cannot
// be read is an ErrorList with one entry at the file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrorList{Errorf(Pos{File: path}, "check the path and its permissions",
			"cannot read the configuration: %s", plainOSError(err))}
	}
	return Parse(data, path)
}

// Parse decodes one YAML document: it expands ${NAME} references in scalar
// values from the environment, decodes strictly into a Config (unknown keys
// and wrong types are errors), then applies defaults and validates
// (Normalize). file names the source in error positions. On failure the
// error is an ErrorList holding every problem found, in file order, and the
// Config is nil.
func Parse(data []byte, file string) (*Config, error) {
	return parse(data, file, os.LookupEnv)
}

func parse(data []byte, file string, lookup func(string) (string, bool)) (*Config, error) {
	src, err := parseSource(data, file, lookup)
	if err != nil {
		return nil, err
	}
	d := newDecoder(src)
	d.extensions = true
	c := &Config{File: file, src: src}
	decodeErrs := src.envErrs
	if src.root != nil {
		root, _ := src.resolve(src.root)
		if _, isMap := root.(*ast.MappingNode); !isMap {
			if _, isKV := root.(*ast.MappingValueNode); !isKV {
				d.fail(root, "$", "a configuration starts with keys such as listeners:, routes: and upstreams:",
					"expected a mapping at the top of the file, found %s", describe(root))
			}
		}
		d.decode(src.root, "$", reflect.ValueOf(c).Elem())
	}
	// The decoder may have cleared these; they are not YAML fields.
	c.File, c.src = file, src
	decodeErrs = append(decodeErrs, d.errs...)
	all := append(decodeErrs, withoutConsequences(decodeErrs, c.normalize())...)
	if len(all) > 0 {
		return nil, all.sorted()
	}
	return c, nil
}

// parseSource parses data into a source and expands ${NAME} references.
// Syntax errors end parsing; environment errors are kept in envErrs.
func parseSource(data []byte, file string, lookup func(string) (string, bool)) (*source, error) {
	src := &source{file: file, data: data, anchors: map[string][]*ast.AnchorNode{}, expanded: map[ast.Node]bool{}}
	if !utf8.Valid(data) {
		return nil, ErrorList{Errorf(Pos{File: file, Line: 1, Col: 1}, "save the file as UTF-8", "the file is not valid UTF-8 text")}
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, ErrorList{syntaxError(file, err)}
	}
	var docs []*ast.DocumentNode
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) > 1 {
		return nil, ErrorList{Errorf(src.pos(docs[1]), "put everything in one document (remove the second \"---\")",
			"the file holds %d YAML documents; Gatehouse reads exactly one", len(docs))}
	}
	if len(docs) == 1 {
		src.root = docs[0].Body
	}
	src.walk(src.root, "$", lookup)
	return src, nil
}

// walk visits every node once (aliases not followed): it records anchors and
// expands ${NAME} in scalar values, in place, so that everything reading the
// AST later (the decoder, middleware settings) sees the expanded text.
func (s *source) walk(n ast.Node, path string, lookup func(string) (string, bool)) {
	switch x := n.(type) {
	case *ast.MappingNode:
		for _, kv := range x.Values {
			s.walk(kv, path, lookup)
		}
	case *ast.MappingValueNode:
		s.walk(x.Value, ChildPath(path, keyText(x.Key)), lookup)
	case *ast.SequenceNode:
		for i, v := range x.Values {
			s.walk(v, IndexPath(path, i), lookup)
		}
	case *ast.AnchorNode:
		name := x.Name.GetToken().Value
		s.anchors[name] = append(s.anchors[name], x)
		s.walk(x.Value, path, lookup)
	case *ast.TagNode:
		s.walk(x.Value, path, lookup)
	case *ast.LiteralNode:
		s.expand(x.Value, x.Value, path, lookup)
	case *ast.StringNode:
		s.expand(x, x, path, lookup)
	}
}

func (s *source) expand(n ast.Node, str *ast.StringNode, path string, lookup func(string) (string, bool)) {
	if lookup == nil || !strings.Contains(str.Value, "${") {
		return
	}
	out, problems := expandEnv(str.Value, lookup)
	for _, p := range problems {
		s.envErrs.add(s.envPos(n, str.Value, p.Off), path, p.Hint, "%s", p.Msg)
	}
	str.Value = out
	s.expanded[n] = true
}

// envPos finds the reference at byte offset off of value in the source
// text: the scalar's own line, searched from its column, else the scalar.
func (s *source) envPos(n ast.Node, value string, off int) Pos {
	p := s.pos(n)
	ref := value[off:]
	if end := strings.IndexByte(ref, '}'); end >= 0 {
		ref = ref[:end+1]
	}
	lines := strings.Split(string(s.data), "\n")
	if p.Line < 1 || p.Line > len(lines) {
		return p
	}
	line := []rune(lines[p.Line-1])
	start := min(max(p.Col-1, 0), len(line))
	// Skip earlier occurrences of the same reference in this scalar.
	nth := strings.Count(value[:off], ref)
	rest := string(line[start:])
	col := start
	for i := 0; ; i++ {
		j := strings.Index(rest, ref)
		if j < 0 {
			return p
		}
		if i == nth {
			return Pos{File: s.file, Line: p.Line, Col: col + utf8.RuneCountInString(rest[:j]) + 1}
		}
		col += utf8.RuneCountInString(rest[:j+len(ref)])
		rest = rest[j+len(ref):]
	}
}

// syntaxError turns a parser error into an *Error with a plain message.
func syntaxError(file string, err error) *Error {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil || ye.GetToken().Position == nil {
		return Errorf(Pos{File: file}, "", "the file is not valid YAML: %s", plainYAMLError(err))
	}
	tp := ye.GetToken().Position
	msg, hint := rewriteSyntax(ye.GetMessage())
	return Errorf(Pos{File: file, Line: tp.Line, Col: tp.Column}, hint, "%s", msg)
}

// rewriteSyntax rewords the YAML parser's common messages for operators.
func rewriteSyntax(msg string) (string, string) {
	const indent = "check the indentation: keys of one mapping line up, list items start with \"- \""
	switch {
	case strings.Contains(msg, "tab character"):
		return "a tab character is used for indentation", "YAML indents with spaces only"
	case strings.Contains(msg, "already defined"):
		if m := dupKeyRE.FindStringSubmatch(msg); m != nil {
			return fmt.Sprintf("key %s appears twice (first at line %s)", m[1], m[2]), "each key may appear once in a mapping; merge the two"
		}
		return "duplicate key: " + strings.Replace(msg, "mapping key ", "", 1), "each key may appear once in a mapping"
	case strings.Contains(msg, "mapping value is not allowed"), strings.Contains(msg, "value is not allowed in this context"):
		return "YAML syntax error: unexpected \":\" or indentation here", indent + "; quote values that contain \": \""
	case strings.Contains(msg, "could not find end character"), strings.Contains(msg, "not found"):
		return "YAML syntax error: " + msg, "close every quote and bracket that is opened"
	}
	return "YAML syntax error: " + msg, indent
}

// dupKeyRE reads the parser's duplicate key message.
var dupKeyRE = regexp.MustCompile(`mapping key (".*") already defined at \[(\d+):(\d+)\]`)

// plainYAMLError returns a decoding error's message without the source
// excerpt the YAML library appends.
func plainYAMLError(err error) string {
	var ye yaml.Error
	if errors.As(err, &ye) {
		return ye.GetMessage()
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// plainOSError drops the "open PATH:" prefix, the position names the file.
func plainOSError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return fmt.Sprint(err)
}
