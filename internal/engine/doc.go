// Package engine is Gatehouse's own HTTP/1.1 server and upstream client:
// the plain HTTP/1.1 proxy path without net/http's per-request cost
// (DESIGN.md, "Two engines, one set of rules"). It owns parsing,
// connection handling, pooled upstream connections and body copy/splice.
// The protocol rules themselves (framing checks, hop-by-hop removal,
// forwarding fields, error mapping) come from internal/protocol, so both
// engines apply the same code; engine never imports internal/proxy.
//
// # Server
//
// Server serves a net.Listener with one goroutine per connection.
//
//   - Idle connections hold no buffer. Between requests the goroutine waits
//     in the poller through syscall.RawConn: the read callback borrows a
//     pooled session (4 KiB head buffer, 16 KiB exchange buffer, scratch,
//     the request scanner) only to try a read, and returns it when the
//     socket has nothing (EAGAIN). That is the same syscalls as
//     net.Conn.Read.
//   - Bodyless requests are served inside that read callback (idle.go,
//     idleCB), which then returns "not ready" instead of trying another
//     read: RawConn.Read clears the poller's readiness mark only when it
//     starts, so a request that arrives while one is served still wakes
//     the wait, and the read that would fail with EAGAIN after every
//     response is skipped (nginx skips it too). Uploads, incomplete
//     heads, refusals, hand-offs and closing finishes read the client
//     themselves, so they leave the callback and run in the loop
//     (serve.go: route decides, do carries out). Server.Close shuts such
//     a connection down at once and frees its descriptor once the
//     exchange in the callback ends (closing waits for it).
//   - Hot-path I/O is raw (rawio.go, splice.go): reads, writes and splices
//     of both sockets are raw system calls made inside syscall.RawConn's
//     callbacks, so the poller still waits (with the deadlines) on EAGAIN,
//     but no call enters the runtime's syscall state. That state wakes
//     the scheduler's monitor thread after every idle moment and lets it
//     hand a long call's P to another thread; on a proxy pinned to one
//     core that cost ~5 % of the CPU and most context switches (0.25 per
//     100 KiB request before, 0.04 after). The descriptors are
//     non-blocking, so no raw call can stall the process.
//   - Idle connections hold a minimal goroutine stack. Serving a request
//     grows the goroutine's stack (4 KiB+), and nothing shrinks it while
//     the proxy is idle. So after a request the goroutine waits for the
//     next one only for a grace period (200 ms; 20 ms after a
//     connection's first request), then arms the rest of the idle timeout
//     and hands the wait to a fresh goroutine (2 KiB stack), which peeks
//     one byte (MSG_PEEK) before borrowing anything (idle.go, idleWait):
//     its read starts by clearing the poller's readiness mark, so parking
//     without looking would miss bytes sent during the hand-over. A busy
//     keep-alive connection never switches goroutines, and its grace
//     deadline is re-armed only about every 150 ms. The result is about 4.6 KiB per
//     idle connection in the bench's idle scenario (2.3 KiB after a GC
//     and scavenge: a freed stack stays in RSS until the runtime
//     scavenges it).
//   - Heads are validated by protocol.FramingScanner, the same scanner the
//     listen guard uses, fed exactly up to the end of the head, so every
//     request the guard refuses is refused here with the same status
//     (400/414/431/505) and the same response bytes, before any handler or
//     backend sees it. parseHead then splits the validated bytes without
//     allocating (strings view the buffer) and adds net/http's own checks
//     (Host present once in HTTP/1.1 and well-formed, valid %-escapes in
//     the path), so the accepted set is net/http's minus the scanner's
//     documented strictness; FuzzParseDifferential checks this against
//     http.ReadRequest.
//   - Keep-alive and pipelining: requests are served in order on the one
//     goroutine; pipelined bytes stay in the buffer. HTTP/1.0 and
//     "Connection: close" end the connection after the response (the
//     engine does not negotiate HTTP/1.0 keep-alive). "Expect:
//     100-continue" is answered with 100 when the body is first read; an
//     unread body is drained (up to 256 KiB) or the connection closes.
//   - Bodies (Content-Length and chunked) stream to the handler through the
//     scanner: Request.Body decodes, the proxy forwards framing as is.
//   - Timeouts: HeaderTimeout (from the first read that leaves the head
//     incomplete to its end), IdleTimeout (between requests), BodyTimeout
//     (each body read). Every read of a socket arms its own deadline
//     first, so none is cleared between uses; a deadline already armed is
//     kept when it is at most 1/64 of the timeout earlier than asked
//     (deadline.go), which saves a runtime timer update on almost every
//     keep-alive request.
//
// # Hand-off
//
// Config.Dispatch returns the native Handler for a request, or ok=false.
// Then the connection, with the bytes of this request (and any pipelined
// after it) replayed first, is passed to a HandoffListener, which the
// runtime serves with its usual http.Server behind listen.GuardListener;
// the engine never touches the connection again, and net/http serves the
// rest of it (keep-alive included). The engine hands off by itself:
// Upgrade requests (WebSocket: net/http's proxy does the bidirectional
// copy), CONNECT, absolute-form and asterisk-form targets, and the h2c
// preface. This is how every feature keeps working: a route whose chain
// needs *http.Request (most middleware today) is dispatched !ok; a route
// that is a bare proxy (or whose middleware has a native form) gets the
// fast path.
//
// # Native proxy
//
// ProxyHandler serves one exchange: upstream.Pool.Pick (no allocation);
// an idle connection from the target's LIFO stack in ConnPool, or a new
// dial (tcp or unix); the outbound head written in one syscall together
// with the request body already read (RemoveHopByHop and SetForwarded run
// on the engine's Header, which implements protocol.Header and builds the
// forwarding values in its own storage, protocol.ValueBuilder); the rest of
// the body streamed (splice for large Content-Length bodies); the response
// head read with the response scanner, 1xx forwarded (not 100, which the
// engine sends itself), hop-by-hop fields removed, the request ID set; the
// head and the first body bytes written in one syscall (the first
// response read is capped at 4 KiB so that a large body stays in the
// socket for splice; the head is laid down in the exchange buffer right
// before the body bytes); then the body:
// Content-Length by splice(2) from the upstream socket to the client
// socket when large, otherwise read by read with each read written at once
// (so SSE and other streams are never buffered). A chunked response to an
// HTTP/1.0 client is decoded and close-delimited.
//
// Errors before the response head map to 502/503/504 through
// protocol.StatusFor, with protocol.ErrorBody and the request ID; after
// the head, the client connection is closed so the response is visibly
// truncated. A pooled connection that turns out stale (EOF or reset before
// any response byte) is replaced by a new dial once, if the request is
// idempotent and its whole body went out in the first write, or if the
// first write itself failed.
//
// # Client for the net/http side
//
// ConnPool.RoundTrip is an http.RoundTripper-like client over the same
// pool for the requests net/http serves (HTTP/2, HTTP/3, routes with
// middleware): no body or a small one of known length, read whole
// (DirectOK), on the caller's goroutine, with
// http.ReadResponse for the response and the connection given back when
// the body has been read to its end (roundtrip.go says why).
package engine
