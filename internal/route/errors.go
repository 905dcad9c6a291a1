package route

import (
	"errors"
	"fmt"
)

// Sentinel errors, wrapped in a *CompileError by Compile. Match them with
// errors.Is.
var (
	// ErrHost reports a host pattern that is neither an exact name, "*" nor
	// "*.suffix".
	ErrHost = errors.New("invalid host pattern")
	// ErrPath reports a path pattern that is empty, puts '*' anywhere but a
	// final "/*", or is a regex that does not compile.
	ErrPath = errors.New("invalid path pattern")
	// ErrCondition reports an invalid method, header or query condition.
	ErrCondition = errors.New("invalid match condition")
)

// CompileError is one problem in one route's match, as returned (joined with
// errors.Join) by Compile. Route is the index into the slice given to Compile
// and Field the YAML key under the route ("match.host", "match.path",
// "match.methods", "match.headers", "match.query"), so the caller can turn it
// into a file position such as "$.routes[2].match.path".
type CompileError struct {
	Route int
	Name  string
	Field string
	Value string
	Err   error
}

// Error renders "routes[2] (api): match.path "/v1*": invalid path pattern: ...".
func (e *CompileError) Error() string {
	return fmt.Sprintf("routes[%d] (%s): %s %q: %v", e.Route, e.Name, e.Field, e.Value, e.Err)
}

// Unwrap returns the underlying error (wrapping one of the sentinels).
func (e *CompileError) Unwrap() error { return e.Err }
