package runtime

// stackPad is the stack a proxied HTTP/2 or HTTP/3 request needs below
// Holder.ServeHTTP (the chain, ReverseProxy, the upstream exchange), with
// room to spare: growStack makes the goroutine's stack at least this big.
const stackPad = 12 << 10

// growStack grows the calling goroutine's stack to hold stackPad more
// bytes, in one step, while the stack is still shallow.
//
// Why: x/net/http2 and quic-go's http3 run every request on a new
// goroutine, which starts with a small stack. The exchange then outgrows
// it deep down (cloning the header map, parsing the peer's address), and
// each growth copies the whole stack, walking every frame to adjust its
// pointers: 7-9 % of the CPU in the TLS + HTTP/2 profile
// (docs/performance.md). Growing once at the top copies two frames. The
// cost is zeroing the pad (a few hundred nanoseconds); the stack goes back
// to the runtime when the goroutine ends. HTTP/1.1 connections keep one
// goroutine for many requests, so their stack grows once anyway.
//
//go:noinline
func growStack(i int) byte {
	var pad [stackPad]byte
	pad[i] = 1 // the pad is used, so the frame keeps it
	return pad[i+1]
}
