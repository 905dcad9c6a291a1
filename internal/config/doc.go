// Package config owns Gatehouse's configuration: the schema as plain Go types
// (types.go), strict YAML loading with positions (load.go, decode.go),
// ${NAME} environment references (expand.go), durations, sizes and string
// lists (units.go), every default value (defaults.go) and validation with
// file:line:col errors and hints (validate*.go, errors.go).
//
// It holds no runtime objects: compiling a Config into routers, chains and
// pools is internal/runtime's job. It does not know the middleware names
// either (it must not import internal/middleware); a middleware entry keeps
// its raw YAML node, and the middleware's constructor decodes it with
// MiddlewareSpec.Decode, which reports positions in the original file.
package config
