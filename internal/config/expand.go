package config

import (
	"strings"
)

// envError is a problem in a ${NAME} reference at byte offset Off of the
// scalar being expanded.
type envError struct {
	Off  int
	Msg  string
	Hint string
}

// expandEnv replaces ${NAME} references in s with lookup(NAME). "$${" is an
// escape for a literal "${" (so "$${X}" yields "${X}"); a "$" anywhere else
// is literal. NAME is [A-Za-z_][A-Za-z0-9_]*. A variable that is set to the
// empty string expands to ""; one that is not set is an error. Every problem
// is reported, not just the first; on error the returned string is
// unspecified.
func expandEnv(s string, lookup func(string) (string, bool)) (string, []envError) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var errs []envError
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				errs = append(errs, envError{Off: i, Msg: `"${" is not closed by "}"`,
					Hint: `write ${NAME}, or $${ for a literal "${"`})
				b.WriteString(s[i:])
				i = len(s)
				continue
			}
			name := s[i+2 : i+2+end]
			switch v, ok := lookup(name); {
			case !validEnvName(name):
				errs = append(errs, envError{Off: i, Msg: "invalid environment variable name " + quote(name),
					Hint: `names are letters, digits and "_", not starting with a digit; write $${ for a literal "${"`})
			case !ok:
				errs = append(errs, envError{Off: i, Msg: "environment variable " + name + " is not set",
					Hint: "set it before starting gatehouse (an empty value is allowed), or write $${" + name + "} for a literal ${" + name + "}"})
			default:
				b.WriteString(v)
			}
			i += 2 + end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), errs
}

// escapeEnv is expandEnv's inverse: expandEnv(escapeEnv(s)) == s for any s.
func escapeEnv(s string) string { return strings.ReplaceAll(s, "${", "$${") }

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func quote(s string) string { return `"` + s + `"` }
