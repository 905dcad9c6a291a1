package upstream

import (
	"strconv"
	"sync/atomic"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Target is one backend. Its address fields are fixed at construction and
// safe to read concurrently; its counters are atomic. A Target belongs to
// one Pool.
type Target struct {
	raw     string // as configured
	network string // "tcp" or "unix"
	address string // dial address: host:port or the socket path
	// urlHost is the host:port placed in the outbound URL. The transport
	// keys its connection pool by it and hands it to the pool's dialer,
	// which maps it back to this target; so it is unique within a pool.
	// For TCP it is the address itself; for a unix socket a synthetic name
	// under ".invalid" (RFC 2606 section 2), which can never resolve.
	urlHost string
	// hostHeader is the Host sent when the route does not preserve the
	// client's: the address for TCP, "localhost" for a unix socket.
	hostHeader string

	scheme string // "http", "h2c" or "https"
	weight int    // configured weight, ≥ 1
	// index is the target's position in its pool's current target list
	// (atomic: re-resolution renumbers targets while requests pick);
	// policies that keep per-target state use it.
	index atomic.Int32
	// added is when the target joined the pool (UnixNano); slow start
	// ramps from it or from its last return to service.
	added int64

	inFlight atomic.Int64
	// lat is the peak-EWMA latency state (ewma.go, used by p2c_ewma).
	lat ewma
	// health is the active and passive health state (health_state.go).
	health healthState
}

// ParseTarget parses one configured target with config.ParseTarget (the
// one parser of the target syntax: "host:port", "http://host:port",
// "unix:/abs/path.sock") and prepares it for dialing. index must be unique
// within the pool; it names the synthetic URL host of a unix target. Errors
// wrap config.ErrBadTarget.
func ParseTarget(s string, index int) (*Target, error) {
	ct, _, err := config.ParseTarget(s)
	if err != nil {
		return nil, err
	}
	t := &Target{raw: s, network: ct.Network, address: ct.Address, scheme: ct.Scheme, weight: ct.Weight}
	t.index.Store(int32(index))
	if t.weight < 1 {
		t.weight = 1
	}
	if ct.Network == "unix" {
		t.urlHost = "unix-" + strconv.Itoa(index) + ".gatehouse.invalid:80"
		t.hostHeader = "localhost"
	} else {
		t.urlHost = ct.Address
		t.hostHeader = ct.Address
	}
	return t, nil
}

// String returns the target as configured.
func (t *Target) String() string { return t.raw }

// Network returns the dial network: "tcp" or "unix".
func (t *Target) Network() string { return t.network }

// Address returns the dial address: host:port or the socket path.
func (t *Target) Address() string { return t.address }

// Scheme returns the scheme of the outbound URL: "http" for HTTP/1.1 and
// h2c targets (the pool's transport speaks h2c), "https" for TLS ones.
func (t *Target) Scheme() string {
	if t.scheme == "https" {
		return "https"
	}
	return "http"
}

// Protocol returns the configured scheme: "http", "h2c" or "https".
func (t *Target) Protocol() string { return t.scheme }

// Weight returns the configured weight (≥ 1).
func (t *Target) Weight() int { return t.weight }

// Index returns the target's position in its pool's target list.
func (t *Target) Index() int { return int(t.index.Load()) }

// URLHost returns the host:port to put in the outbound request's URL. Only
// this pool's Transport can dial it (for unix targets it is synthetic).
func (t *Target) URLHost() string { return t.urlHost }

// HostHeader returns the Host to send when the client's is not preserved.
func (t *Target) HostHeader() string { return t.hostHeader }

// InFlight returns the number of exchanges currently in progress.
func (t *Target) InFlight() int64 { return t.inFlight.Load() }

// Begin records the start of an exchange with this target; the caller must
// call Done exactly once when the exchange ends.
func (t *Target) Begin() { t.inFlight.Add(1) }

// Done records the end of an exchange started with Begin.
func (t *Target) Done() { t.inFlight.Add(-1) }
