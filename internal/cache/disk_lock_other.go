//go:build !unix

package cache

import (
	"errors"
	"os"
)

// lockFile cannot tell a live store from a leftover without flock: it
// reports every lock as held, so no directory is ever cleaned up as stale.
func lockFile(*os.File) error { return errors.ErrUnsupported }
