package route

import (
	"fmt"
	"regexp"
)

// valueKind is how a header or query condition tests a value.
type valueKind uint8

const (
	valuePresent valueKind = iota // "*"
	valueExact                    // "prod"
	valueRegex                    // "~^v[0-9]+$"
)

// valueMatcher is the compiled right-hand side of a header or query
// condition.
type valueMatcher struct {
	kind  valueKind
	raw   string
	value string
	re    *regexp.Regexp
}

func parseValue(raw string) (valueMatcher, error) {
	switch {
	case raw == "*":
		return valueMatcher{kind: valuePresent, raw: raw}, nil
	case len(raw) > 0 && raw[0] == '~':
		re, err := regexp.Compile(raw[1:])
		if err != nil {
			return valueMatcher{}, fmt.Errorf("%w: %w", ErrCondition, err)
		}
		return valueMatcher{kind: valueRegex, raw: raw, re: re}, nil
	}
	return valueMatcher{kind: valueExact, raw: raw, value: raw}, nil
}

// implies reports whether any value v satisfies o whenever it satisfies m
// (both conditions on the same name); false when unsure.
func (m *valueMatcher) implies(o *valueMatcher) bool {
	switch o.kind {
	case valuePresent:
		return true // every condition requires the name to be present
	case valueExact:
		return m.kind == valueExact && m.value == o.value
	default:
		switch m.kind {
		case valueExact:
			return o.re.MatchString(m.value)
		case valueRegex:
			return m.re.String() == o.re.String()
		}
	}
	return false
}

// describe renders "name present", "name=value" or "name~re".
func (m *valueMatcher) describe(name string) string {
	switch m.kind {
	case valuePresent:
		return name + " present"
	case valueExact:
		return name + "=" + m.value
	default:
		return name + m.raw
	}
}
