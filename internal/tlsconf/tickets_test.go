package tlsconf

import (
	"context"
	"testing"
	"time"
)

// Local keys rotate every TicketRotation on the injected clock, newest
// first, the last three kept.
func TestLocalTicketKeysRotate(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := NewLocalTicketKeys(func() time.Time { return now })
	var seen [][32]byte
	for i := range 5 {
		keys, err := l.TicketKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := min(i+1, ticketKeep); len(keys) != want {
			t.Fatalf("step %d: %d keys, want %d", i, len(keys), want)
		}
		if i > 0 && keys[1] != seen[len(seen)-1] {
			t.Fatalf("step %d: previous key not second", i)
		}
		again, _ := l.TicketKeys(context.Background())
		if again[0] != keys[0] {
			t.Fatalf("step %d: rotated before TicketRotation", i)
		}
		seen = append(seen, keys[0])
		now = now.Add(TicketRotation)
	}
}
