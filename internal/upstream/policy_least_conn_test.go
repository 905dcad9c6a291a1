package upstream

import "testing"

func TestLeastConn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		weights  []int
		inFlight []int
		// want lists the acceptable picks, each about equally often.
		want []int
	}{
		{"fewest", []int{1, 1, 1}, []int{3, 1, 2}, []int{1}},
		{"ties share", []int{1, 1, 1, 1}, []int{2, 0, 5, 0}, []int{1, 3}},
		{"all idle", []int{1, 1, 1}, []int{0, 0, 0}, []int{0, 1, 2}},
		{"weight", []int{4, 1}, []int{3, 1}, []int{0}},        // 3/4 < 1/1
		{"weight tie", []int{2, 1}, []int{2, 1}, []int{0, 1}}, // 2/2 = 1/1
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			targets := weightedTargets(t, tc.weights...)
			for i, n := range tc.inFlight {
				for range n {
					targets[i].Begin()
				}
			}
			p := newTestPolicy(t, "least_conn", PolicyOptions{Targets: targets})
			const picks = 3000
			counts := make([]int, len(targets))
			for range picks {
				counts[p.Pick(targets, nil).Index()]++
			}
			allowed := make(map[int]bool)
			for _, i := range tc.want {
				allowed[i] = true
				if share := picks / len(tc.want); counts[i] < share*8/10 {
					t.Errorf("target %d got %d picks, want about %d", i, counts[i], share)
				}
			}
			for i, c := range counts {
				if c > 0 && !allowed[i] {
					t.Errorf("target %d (in flight %d) got %d picks, want 0", i, tc.inFlight[i], c)
				}
			}
		})
	}
}
