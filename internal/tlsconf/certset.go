package tlsconf

import (
	"log/slog"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// certSet is the file certificates of one configuration, indexed by name.
// Immutable once built.
type certSet struct {
	exact map[string]*fileCert // "api.example.com", "192.0.2.7"
	wild  map[string]*fileCert // "*.example.com" stored under "example.com"
	def   *fileCert            // the first one; nil without file certificates
	all   []*fileCert
}

// certPairs lists a listener's certificate files in order: Cert/Key first,
// then Certificates.
func certPairs(cfg config.ListenerTLS) []config.CertificateFiles {
	var pairs []config.CertificateFiles
	if cfg.Cert != "" || cfg.Key != "" {
		pairs = append(pairs, config.CertificateFiles{Cert: cfg.Cert, Key: cfg.Key})
	}
	return append(pairs, cfg.Certificates...)
}

// loadCertSet loads every pair. A name present in several certificates is
// served with the first one (config order), so the choice never depends on
// map iteration.
func loadCertSet(pairs []config.CertificateFiles, now time.Time, log *slog.Logger) (*certSet, error) {
	s := &certSet{exact: map[string]*fileCert{}, wild: map[string]*fileCert{}}
	for _, p := range pairs {
		fc, err := loadCertFiles(p.Cert, p.Key, now)
		if err != nil {
			return nil, err
		}
		if left := fc.cert.Leaf.NotAfter.Sub(now); left < expiryWarning {
			log.Warn("certificate expires soon", "file", p.Cert, "names", strings.Join(fc.names, ","),
				"not_after", fc.cert.Leaf.NotAfter.UTC().Format(time.RFC3339), "left", left.Round(time.Minute).String())
		}
		if s.def == nil {
			s.def = fc
		}
		s.all = append(s.all, fc)
		for _, n := range fc.names {
			m, key := s.exact, n
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				m, key = s.wild, rest
			}
			if _, dup := m[key]; !dup {
				m[key] = fc
			}
		}
	}
	return s, nil
}

// lookup returns the certificate for name (lower case, no trailing dot):
// an exact name first, then a wildcard covering exactly one leftmost label
// (RFC 6125 section 6.4.3: "*.example.com" matches "a.example.com", not
// "a.b.example.com" nor "example.com").
func (s *certSet) lookup(name string) *fileCert {
	if s == nil || name == "" {
		return nil
	}
	if fc := s.exact[name]; fc != nil {
		return fc
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		return s.wild[name[i+1:]]
	}
	return nil
}

// normalizeName lower-cases an SNI name and drops a trailing dot; SNI is
// compared case-insensitively (RFC 6066 section 3, RFC 4343).
func normalizeName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// fileNames lists the files a configuration reads, for the watcher and for
// error messages.
func fileNames(cfg config.ListenerTLS) []string {
	var files []string
	for _, p := range certPairs(cfg) {
		files = append(files, p.Cert, p.Key)
	}
	if cfg.ClientAuth != nil && cfg.ClientAuth.CA != "" {
		files = append(files, cfg.ClientAuth.CA)
	}
	return files
}
