package runtime

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// A Swap that lands between a request loading the current Runtime and
// counting itself in it must not leave the request on a Runtime that has
// already drained (pools closed, access log closing): the request goes to
// the new Runtime instead.
func TestHolderPinsOnlyALiveRuntime(t *testing.T) {
	build := func(body string) *Runtime {
		t.Helper()
		cfg := mustParse(t, "listeners: [{address: \"127.0.0.1:0\"}]\nroutes: [{respond: {body: "+body+"}}]\n")
		rt, err := Build(cfg, nil, Options{Logger: discard(), DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	tests := []struct {
		name      string
		swapFirst bool // swap inside the window, or not at all
		want      string
	}{
		{"swap between load and count", true, "new"},
		{"no swap", false, "old"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt1, rt2 := build("old"), build("new")
			defer rt2.Close()
			h := NewHolder(rt1)
			var once sync.Once
			h.beforePin = func() {
				if !tc.swapFirst {
					return
				}
				once.Do(func() {
					h.Swap(rt2)
					select {
					case <-rt1.drained:
					case <-time.After(5 * time.Second):
						t.Error("old runtime did not drain with nothing in flight")
					}
				})
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if got := rec.Body.String(); got != tc.want {
				t.Fatalf("served %q, want %q (a retired runtime served the request)", got, tc.want)
			}
			if !tc.swapFirst {
				rt1.Close()
			}
		})
	}
}
