// Package e2e holds the end-to-end tests: they build the real gatehouse
// binary once (TestMain), start it with configurations written to
// t.TempDir() on 127.0.0.1:0, and drive it with real backends on loopback.
//
// Run with `go test -race -count=1 ./test/e2e/` (about 20 s; -short skips
// the 1 GiB upload). `-update` rewrites testdata/validate/*.golden.
package e2e
