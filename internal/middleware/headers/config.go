package headers

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/placeholder"
	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// Config is the middleware's settings.
type Config struct {
	// Request edits apply before the next handler runs.
	Request Edits `yaml:"request"`
	// Response edits apply when the final response head is written.
	Response Edits `yaml:"response"`
}

// Edits are the operations on one header map, applied in the order
// remove, set, add. Names are case-insensitive; values may hold
// placeholders.
type Edits struct {
	// Set replaces every value of a header with this one.
	Set map[string]string `yaml:"set"`
	// Add appends a value, keeping those already there.
	Add map[string]string `yaml:"add"`
	// Remove deletes a header entirely.
	Remove []string `yaml:"remove"`
}

// edit is one compiled set or add.
type edit struct {
	name  string // canonical
	value placeholder.Template
}

// compiled is one direction's edits, validated and in a fixed order.
type compiled struct {
	remove []string
	set    []edit
	add    []edit
	// host, when set, replaces r.Host (a request "set: {Host: ...}").
	host *placeholder.Template
}

func (c *compiled) empty() bool {
	return len(c.remove) == 0 && len(c.set) == 0 && len(c.add) == 0 && c.host == nil
}

// compile validates one direction's edits. where is "request" or
// "response", for messages.
func compile(e Edits, where string) (*compiled, error) {
	c := &compiled{}
	for _, name := range e.Remove {
		cn, err := checkName(name, where, "remove")
		if err != nil {
			return nil, err
		}
		if cn == "Host" {
			return nil, fmt.Errorf("%s.remove: the Host header cannot be removed (RFC 9112 section 3.2 requires it)", where)
		}
		c.remove = append(c.remove, cn)
	}
	var err error
	if c.set, err = compileValues(e.Set, where, "set"); err != nil {
		return nil, err
	}
	if c.add, err = compileValues(e.Add, where, "add"); err != nil {
		return nil, err
	}
	for i, ed := range c.set {
		if ed.name != "Host" {
			continue
		}
		if where != "request" {
			return nil, fmt.Errorf("%s.set: Host is a request header", where)
		}
		c.host = &c.set[i].value
		c.set = slices.Delete(slices.Clone(c.set), i, i+1)
		break
	}
	for _, ed := range c.add {
		if ed.name == "Host" {
			return nil, fmt.Errorf("%s.add: a message has one Host; use set", where)
		}
	}
	return c, nil
}

func compileValues(m map[string]string, where, op string) ([]edit, error) {
	out := make([]edit, 0, len(m))
	for name, value := range m {
		cn, err := checkName(name, where, op)
		if err != nil {
			return nil, err
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			// RFC 9110 section 5.5: CR, LF and NUL are invalid in a field value.
			return nil, fmt.Errorf("%s.%s.%s: value contains CR, LF or NUL", where, op, name)
		}
		t, err := placeholder.Compile(value)
		if err != nil {
			return nil, fmt.Errorf("%s.%s.%s: %w", where, op, name, err)
		}
		out = append(out, edit{name: cn, value: t})
	}
	// Map order is random; a fixed order makes behaviour and logs repeatable.
	slices.SortFunc(out, func(a, b edit) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

func checkName(name, where, op string) (string, error) {
	if !placeholder.ValidFieldName(name) {
		return "", fmt.Errorf("%s.%s: %q is not a valid header name", where, op, name)
	}
	cn := http.CanonicalHeaderKey(name)
	if protocol.IsServerManaged(cn) {
		return "", fmt.Errorf("%s.%s: %s is a framing or hop-by-hop header and cannot be edited", where, op, cn)
	}
	return cn, nil
}
