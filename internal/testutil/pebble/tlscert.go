package pebble

import (
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/testutil/certs"
)

// writeTLS generates a throw-away root and a leaf for 127.0.0.1 and
// localhost, writes pebble.crt/pebble.key (pebble's HTTPS) into p.dir and
// keeps the root's file and pool (what clients trust). Debian's package
// ships no test certificate, unlike pebble's source tree.
func (p *Pebble) writeTLS(t testing.TB) {
	t.Helper()
	ca := certs.NewCA(t, "gatehouse test pebble HTTPS root")
	leaf := ca.Leaf(t, certs.Spec{CN: "127.0.0.1", Names: []string{"localhost", "pebble", "127.0.0.1"}})
	certs.WriteFiles(t, p.dir, "pebble", leaf)
	p.caFile, p.pool = ca.File, ca.Pool
}
