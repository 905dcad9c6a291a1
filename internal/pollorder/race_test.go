//go:build race

package pollorder

// The race detector shuffles every batch the scheduler queues
// (runtime.randomizeScheduler), so no wake order survives it.
const raceEnabled = true
