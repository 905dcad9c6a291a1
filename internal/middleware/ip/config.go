package ip

import (
	"fmt"
	"net/netip"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Config is the middleware's settings. Each entry is an address or a CIDR
// prefix, IPv4 or IPv6 (see ParseEntry). At least one list must be
// non-empty.
type Config struct {
	// Allow, when non-empty, is the only set of clients let through.
	Allow config.StringList `yaml:"allow"`
	// Deny is refused even when Allow covers it (deny wins).
	Deny config.StringList `yaml:"deny"`
}

// Rules is a compiled allow/deny decision. Immutable, safe for concurrent
// use.
type Rules struct {
	allow, deny *Set
}

// Compile validates cfg. The first bad entry is reported with its list and
// index ("deny[2]: ..."); the error wraps ErrBadEntry.
func Compile(cfg Config) (*Rules, error) {
	allow, errA := parseList(cfg.Allow, "allow")
	deny, errD := parseList(cfg.Deny, "deny")
	if errA != nil || errD != nil {
		if errA != nil {
			return nil, errA
		}
		return nil, errD
	}
	if allow.Len() == 0 && deny.Len() == 0 {
		return nil, fmt.Errorf("nothing to do: set allow, deny or both")
	}
	return &Rules{allow: allow, deny: deny}, nil
}

func parseList(list []string, field string) (*Set, error) {
	ps := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		p, err := ParseEntry(s)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		ps = append(ps, p)
	}
	return NewSet(ps), nil
}
