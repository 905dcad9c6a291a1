package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// maxCheckBody is how much of a check response's body is searched for
// health_check.body.
const maxCheckBody = 64 << 10

// errCheckFailed is wrapped by every failed check's reason.
var errCheckFailed = errors.New("health check failed")

// activeCheck is a compiled health_check.
type activeCheck struct {
	tcp      bool
	method   string
	path     string
	host     string
	status   []config.StatusRange
	statusS  string
	body     string
	bodyRE   *regexp.Regexp
	interval time.Duration
	timeout  time.Duration
	rise     int32
	fall     int32
}

// newActiveCheck compiles c; zero fields get the documented defaults.
func newActiveCheck(c config.HealthCheck) (*activeCheck, error) {
	a := &activeCheck{
		method:   orDefault(c.Method, config.DefaultHealthMethod),
		path:     orDefault(c.Path, config.DefaultHealthPath),
		host:     c.Host,
		statusS:  orDefault(c.Status, config.DefaultHealthStatus),
		interval: orDefault(c.Interval, config.DefaultHealthInterval).D(),
		timeout:  orDefault(c.Timeout, config.DefaultHealthTimeout).D(),
		rise:     int32(orDefault(c.Rise, config.DefaultHealthRise)),
		fall:     int32(orDefault(c.Fall, config.DefaultHealthFall)),
	}
	switch orDefault(c.Type, config.DefaultHealthType) {
	case config.HealthTCP:
		a.tcp = true
	case config.HealthHTTP:
	default:
		return nil, fmt.Errorf("health_check: unknown type %q (http or tcp)", c.Type)
	}
	if a.interval < 0 || a.timeout < 0 || a.rise < 0 || a.fall < 0 {
		return nil, errors.New("health_check: interval, timeout, rise and fall must not be negative")
	}
	var err error
	if a.status, err = config.ParseStatusRanges(a.statusS); err != nil {
		return nil, fmt.Errorf("health_check status: %w", err)
	}
	if re, ok := strings.CutPrefix(c.Body, "~"); ok {
		if a.bodyRE, err = regexp.Compile(re); err != nil {
			return nil, fmt.Errorf("health_check body: %w", err)
		}
	} else {
		a.body = c.Body
	}
	return a, nil
}

// run checks every target of p's current set, each in its own goroutine
// on its own jittered schedule, until ctx ends. It follows target-set
// changes (DNS re-resolution) once per interval: new targets get a
// checker, removed ones lose theirs.
func (h *Health) run(ctx context.Context, p *Pool) {
	defer close(h.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	workers := map[*Target]context.CancelFunc{}
	var seen *targetSet
	tick := time.NewTicker(h.check.interval)
	defer tick.Stop()
	for {
		if ts := p.set.Load(); ts != seen {
			seen = ts
			present := make(map[*Target]bool, len(ts.list))
			for _, t := range ts.list {
				present[t] = true
				if _, ok := workers[t]; ok {
					continue
				}
				wctx, cancel := context.WithCancel(ctx)
				workers[t] = cancel
				wg.Go(func() { h.checkLoop(wctx, p, t) })
			}
			for t, cancel := range workers {
				if !present[t] {
					cancel()
					delete(workers, t)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// checkLoop checks t until ctx ends. The first check runs promptly (within
// a tenth of the interval, so N targets are not probed at the same
// instant); later ones every interval ±10%.
func (h *Health) checkLoop(ctx context.Context, p *Pool, t *Target) {
	iv := h.check.interval
	timer := time.NewTimer(time.Duration(float64(iv/10) * h.unit()))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		err := h.probe(ctx, p, t)
		if ctx.Err() != nil {
			return // stopping: a cancelled probe says nothing about t
		}
		h.record(t, err)
		timer.Reset(time.Duration(float64(iv) * (0.9 + 0.2*h.unit())))
	}
}

// unit returns a uniform random number in [0, 1).
func (h *Health) unit() float64 { return float64(h.rand()>>11) / (1 << 53) }

// probe runs one check of t and returns why it failed, or nil.
func (h *Health) probe(ctx context.Context, p *Pool, t *Target) error {
	c := h.check
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx = WithConnectTimeout(ctx, c.timeout)
	if c.tcp {
		conn, err := p.dial.DialContext(ctx, "tcp", t.URLHost())
		if err != nil {
			return fmt.Errorf("%w: connect: %w", errCheckFailed, err)
		}
		conn.Close()
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, c.method, t.Scheme()+"://"+t.URLHost()+c.path, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", errCheckFailed, err)
	}
	req.Host = t.HostHeader()
	if c.host != "" {
		req.Host = c.host
	}
	req.Header.Set("User-Agent", "gatehouse-health-check")
	// A fresh connection each time: a pooled one could outlive a backend
	// whose listener is gone, and the check must see that.
	req.Close = true
	res, err := p.transport.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("%w: %w", errCheckFailed, err)
	}
	defer res.Body.Close()
	if !statusIn(res.StatusCode, c.status) {
		return fmt.Errorf("%w: status %d not in %s", errCheckFailed, res.StatusCode, c.statusS)
	}
	if c.body == "" && c.bodyRE == nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxCheckBody))
	if err != nil {
		return fmt.Errorf("%w: reading body: %w", errCheckFailed, err)
	}
	if c.bodyRE != nil && !c.bodyRE.Match(b) || c.bodyRE == nil && !strings.Contains(string(b), c.body) {
		return fmt.Errorf("%w: body does not match", errCheckFailed)
	}
	return nil
}

func statusIn(code int, ranges []config.StatusRange) bool {
	for _, r := range ranges {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// record applies one check result to t: fall consecutive failures mark an
// up target down, rise consecutive passes mark a down target up (and start
// its slow start, and ends a passive ejection). Each change is logged
// once.
func (h *Health) record(t *Target, err error) {
	s := &t.health
	if err == nil {
		s.fails.Store(0)
		if n := s.passes.Load(); n < h.check.rise {
			s.passes.Store(n + 1)
		}
		if s.down.Load() && s.passes.Load() >= h.check.rise && s.down.CompareAndSwap(true, false) {
			// A target the checks saw come back is back: its passive
			// ejection ends too (as Envoy's outlier detection does with
			// successful_active_health_check_uneject_host), otherwise a
			// restarted backend would wait out an ejection that may last
			// minutes. The consecutive-failure count starts over; the
			// ejection multiplier is kept, so a flapping target still
			// gets longer ejections.
			s.ejectedUntil.Store(0)
			s.consec.Store(0)
			s.since.Store(h.now())
			h.log.Info("upstream target up", "upstream", h.name, "target", t.raw,
				"reason", fmt.Sprintf("%d consecutive health checks passed", h.check.rise))
		}
		return
	}
	s.passes.Store(0)
	if n := s.fails.Load(); n < h.check.fall {
		s.fails.Store(n + 1)
	}
	if !s.down.Load() && s.fails.Load() >= h.check.fall && s.down.CompareAndSwap(false, true) {
		h.log.Warn("upstream target down", "upstream", h.name, "target", t.raw,
			"reason", err.Error(), "failures", h.check.fall)
	}
}
