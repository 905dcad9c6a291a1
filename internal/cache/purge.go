package cache

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// PurgeOptions enable the PURGE method. With Allow set the client's
// address must be in it, with Token set the request must carry it in
// TokenHeader (both when both are set), else 403; with neither, PURGE is
// not handled by the cache at all (it is forwarded as any unsafe method).
type PurgeOptions struct {
	Allow       []string // CIDRs or addresses
	TokenHeader string   // default X-Purge-Token
	Token       string

	prefixes []netip.Prefix
}

func (p *PurgeOptions) enabled() bool { return len(p.prefixes) > 0 || p.Token != "" }

func (p *PurgeOptions) compile() error {
	p.prefixes = p.prefixes[:0]
	for _, a := range p.Allow {
		if pf, err := netip.ParsePrefix(a); err == nil {
			p.prefixes = append(p.prefixes, pf.Masked())
			continue
		}
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("%w: purge.allow: %q is neither a CIDR nor an address", ErrOptions, a)
		}
		p.prefixes = append(p.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
	}
	if p.TokenHeader == "" {
		p.TokenHeader = "X-Purge-Token"
	}
	return nil
}

// PurgeMessage is one purge, as sent to other instances.
type PurgeMessage struct {
	// Kind is "url" (Value is a primary key), "prefix" (a key prefix) or
	// "tag".
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Apply performs m on the store and returns how many entries it removed.
func (s *Store) Apply(m PurgeMessage) int {
	switch m.Kind {
	case "url":
		return s.PurgeKey(m.Value)
	case "prefix":
		return s.PurgePrefix(m.Value)
	case "tag":
		return s.PurgeTag(m.Value)
	}
	return 0
}

// servePurge handles PURGE: by URL (the request target), by prefix (a
// target path ending in "*") or by tag (X-Purge-Tag: a, b — the tags the
// backend sent in Surrogate-Key or Cache-Tag). It answers 200 with the
// number of entries removed here; with a cluster the purge is published
// to every instance.
func (c *Cache) servePurge(w http.ResponseWriter, r *http.Request) {
	if !c.purgeAllowed(r) {
		http.Error(w, "purge not allowed", http.StatusForbidden)
		return
	}
	var msgs []PurgeMessage
	if tags := r.Header.Values("X-Purge-Tag"); len(tags) > 0 {
		for _, v := range tags {
			for _, t := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
				msgs = append(msgs, PurgeMessage{Kind: "tag", Value: t})
			}
		}
	} else if p, ok := strings.CutSuffix(r.URL.EscapedPath(), "*"); ok {
		msgs = append(msgs, PurgeMessage{Kind: "prefix", Value: strings.ToLower(r.Host) + p})
	} else {
		msgs = append(msgs, PurgeMessage{Kind: "url", Value: c.requestKey(r)})
	}
	n := 0
	for _, m := range msgs {
		n += c.store.Apply(m)
		if c.opts.Publish != nil {
			c.opts.Publish(m)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"purged":` + strconv.Itoa(n) + "}\n"))
}

func (c *Cache) purgeAllowed(r *http.Request) bool {
	p := &c.opts.Purge
	// Both configured: both are required.
	if p.Token != "" {
		got := r.Header.Get(p.TokenHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.Token)) != 1 {
			return false
		}
	}
	if len(p.prefixes) == 0 {
		return true
	}
	var ip netip.Addr
	if info := observe.InfoFrom(r.Context()); info != nil && info.ClientIP.IsValid() {
		ip = info.ClientIP
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ip, _ = netip.ParseAddr(host)
	}
	ip = ip.Unmap()
	for _, pf := range p.prefixes {
		if pf.Contains(ip) {
			return true
		}
	}
	return false
}
