package upstream

// Tried is the set of targets already tried for one request
// (PickContext.Tried): a retry prefers the others. It holds the targets
// themselves, not their positions, so it works for a pool of any size and
// stays right when a re-resolved pool renumbers its targets between two
// tries. The zero value is empty; it does not allocate.
type Tried struct {
	n uint8
	t [maxTried]*Target
}

// maxTried bounds a Tried: retries.attempts is at most 10 (11 tries),
// plus the targets PickClaim passes over while it holds a pick
// (claimTries). A target added past the bound is not excluded.
const maxTried = 16

// Add records t.
func (s *Tried) Add(t *Target) {
	if t == nil || s.Has(t) || int(s.n) == maxTried {
		return
	}
	s.t[s.n] = t
	s.n++
}

// Has reports whether t was tried.
func (s *Tried) Has(t *Target) bool {
	for i := range int(s.n) {
		if s.t[i] == t {
			return true
		}
	}
	return false
}

// Len returns the number of targets recorded.
func (s *Tried) Len() int { return int(s.n) }
