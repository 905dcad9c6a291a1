package demo

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"
)

func TestStartBindsBeforeReturn(t *testing.T) {
	b := startBackends(t)
	addrs := map[string]string{
		"app-1": b.App1, "app-2": b.App2, "chat": b.Chat, "embeddings": b.Embeddings, "websocket": b.WebSocket,
	}
	seen := map[string]bool{}
	for name, addr := range addrs {
		t.Run(name, func(t *testing.T) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil || host != "127.0.0.1" {
				t.Fatalf("address %q is not on 127.0.0.1", addr)
			}
			if seen[addr] {
				t.Fatalf("address %s used twice", addr)
			}
			seen[addr] = true
			// No retry: the listener must already be bound.
			d := net.Dialer{Timeout: testTimeout}
			conn, err := d.DialContext(t.Context(), "tcp", addr)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			conn.Close()
		})
	}
}

// TestStopOnContext checks that cancelling Start's context stops every
// server, and that Close afterwards still waits and returns.
func TestStopOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	b, err := Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(testTimeout)
	for _, addr := range []string{b.App1, b.App2, b.Chat, b.Embeddings, b.WebSocket} {
		for {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				break
			}
			conn.Close()
			if time.Now().After(deadline) {
				t.Fatalf("%s still accepts connections after cancel", addr)
			}
			// Poll: the shutdown goroutine closes listeners asynchronously.
			runtime.Gosched()
		}
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
