package cluster

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/testutil/redisserver"
)

// fakeClock is a settable clock shared by the instances under test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestTicketKeysNeedRedis(t *testing.T) {
	t.Parallel()
	c, err := New(config.Cluster{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.TicketKeys(TicketKeysOptions{}); !errors.Is(err, ErrNoRedis) {
		t.Fatalf("err = %v, want ErrNoRedis", err)
	}
}

func TestTicketKeysSharedAndRotated(t *testing.T) {
	srv := redisserver.Start(t)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)}
	newKeys := func() *TicketKeys {
		k, err := newTestCluster(t, srv.Addr()).TicketKeys(TicketKeysOptions{Now: clock.now})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a, b := newKeys(), newKeys()
	ctx := t.Context()
	get := func(k *TicketKeys) [][32]byte {
		t.Helper()
		keys, err := k.TicketKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	equal := func(x, y [][32]byte) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !bytes.Equal(x[i][:], y[i][:]) {
				return false
			}
		}
		return true
	}
	if want := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC); !a.NextRotation().Equal(want) {
		t.Fatalf("NextRotation = %v, want %v", a.NextRotation(), want)
	}
	var history [][32]byte // newest first
	steps := []struct {
		name    string
		advance time.Duration
		want    int // keys returned
	}{
		{"first period: one key", 0, 1},
		{"same period: same key", time.Hour, 1},
		{"second period: new key first, old kept", 12 * time.Hour, 2},
		{"third period", 12 * time.Hour, 3},
		{"fourth period: oldest dropped", 12 * time.Hour, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clock.add(st.advance)
			ka, kb := get(a), get(b)
			if !equal(ka, kb) {
				t.Fatal("instances disagree on the keys")
			}
			if len(ka) != st.want {
				t.Fatalf("%d keys, want %d", len(ka), st.want)
			}
			if len(history) == 0 || !bytes.Equal(history[0][:], ka[0][:]) {
				history = append([][32]byte{ka[0]}, history...)
			}
			if !equal(ka, history[:st.want]) {
				t.Fatal("keys are not the current one followed by the previous ones")
			}
		})
	}
	// An instance whose clock runs ahead made the next key: the others
	// accept it (last) but still encrypt with the current one.
	ahead, err := newTestCluster(t, srv.Addr()).TicketKeys(TicketKeysOptions{Now: func() time.Time { return clock.now().Add(12 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	next := get(ahead)[0]
	ka := get(a)
	if len(ka) != 4 || ka[3] != next || ka[0] != history[0] {
		t.Fatalf("with a next key: %d keys; want current first, next last", len(ka))
	}
}
