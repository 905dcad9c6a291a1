package listen

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

func managerConfig(t *testing.T, names ...string) *config.Config {
	t.Helper()
	cfg := &config.Config{
		Routes: []config.Route{{Respond: &config.Respond{Body: "ok"}}},
	}
	for _, n := range names {
		cfg.Listeners = append(cfg.Listeners, config.Listener{Name: n, Address: "127.0.0.1:0"})
	}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func get(t *testing.T, addr net.Addr) (int, error) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr.String() + "/")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Listeners outlive reloads: the same identity keeps its socket (and port),
// a new one is opened, a removed one stops accepting.
func TestManagerApplyKeepsAddsRemoves(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	m := NewManager(h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	if err := m.Apply(managerConfig(t, "a", "b")); err != nil {
		t.Fatal(err)
	}
	first := m.Addrs()
	if len(first) != 2 {
		t.Fatalf("want 2 listeners, got %v", first)
	}
	for _, a := range first {
		if code, err := get(t, a); err != nil || code != 204 {
			t.Fatalf("GET %s: %d %v", a, code, err)
		}
	}
	if err := m.Apply(managerConfig(t, "a", "c")); err != nil {
		t.Fatal(err)
	}
	second := m.Addrs()
	keyA, keyB := "127.0.0.1:0|a", "127.0.0.1:0|b"
	if second[keyA].String() != first[keyA].String() {
		t.Errorf("kept listener moved from %s to %s", first[keyA], second[keyA])
	}
	if _, ok := second[keyB]; ok {
		t.Error("removed listener still listed")
	}
	if _, ok := second["127.0.0.1:0|c"]; !ok {
		t.Error("added listener not opened")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := get(t, first[keyB]); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("removed listener still accepts connections")
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}
