package pollorder

import (
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
)

// wakeOrder parks n goroutines in the poller, each reading its own pipe,
// makes the pipes readable in index order while this goroutine holds the
// only P, then blocks: the scheduler finds the n readers ready in one
// poll and runs them in whatever order the poller hands them over. It
// returns the indices in the order the readers ran.
func wakeOrder(t *testing.T, n int) []int {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	rs := make([]*os.File, n)
	ws := make([]*os.File, n)
	for i := range n {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		rs[i], ws[i] = r, w
	}
	ran := make(chan int, n)
	parked := make(chan struct{}, n)
	for i := range n {
		go func() {
			parked <- struct{}{}
			var b [1]byte
			if _, err := rs[i].Read(b[:]); err != nil {
				ran <- -1
				return
			}
			ran <- i
		}()
	}
	for range n {
		<-parked
	}
	// With one P, a reader that signalled runs on until it parks in its
	// Read (the signal only queues this goroutine); yielding a few times
	// lets the last one get there too.
	for range 3 {
		runtime.Gosched()
	}
	for i := range n {
		if _, err := ws[i].Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]int, 0, n)
	deadline := time.After(10 * time.Second)
	for range n {
		select {
		case i := <-ran:
			got = append(got, i)
		case <-deadline:
			t.Fatalf("readers woke %v of %d", got, n)
		}
	}
	return got
}

func TestPollerWakesInKernelOrder(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the patch is for the epoll poller")
	}
	if raceEnabled {
		t.Skip("the race detector randomizes the scheduler's queues (make test runs this package once without it)")
	}
	if !FIFO() {
		t.Skip("built without the overlay (make build and make test apply it; scripts/netpoll-fifo.sh)")
	}
	const n = 16
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	for range 3 {
		if got := wakeOrder(t, n); !slices.Equal(got, want) {
			t.Fatalf("readers ran in order %v, want the order their pipes became readable", got)
		}
	}
}

func TestString(t *testing.T) {
	want := "netpoll stock"
	if FIFO() {
		want = "netpoll fifo"
	}
	if got := String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}
