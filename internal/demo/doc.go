// Package demo owns what `gatehouse demo` runs besides Gatehouse itself: a
// handful of small origin servers on loopback (two web app instances, an
// OpenAI-style streaming chat endpoint, an embeddings endpoint and a
// WebSocket echo), the embedded Gatehouse configuration that puts them
// behind one listener, and the banner that tells the user what to try.
//
// The package starts no Gatehouse listener and knows nothing of the runtime:
// the CLI calls Start, feeds Config's output to the normal config loader and
// runtime, and prints Banner. Every backend is a plain net/http server bound
// to 127.0.0.1 on a port the OS chooses, so the demo never collides with
// anything but the Gatehouse listen address itself.
package demo
