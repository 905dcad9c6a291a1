// Package runtime compiles a validated configuration into an immutable
// Runtime (router, each route's handler chain, upstream pools) and swaps it
// atomically on reload. A request loads the current Runtime once, at the
// start, and uses only that; a retired Runtime finishes its in-flight
// requests (streams and WebSockets included) before its pools are closed.
package runtime
