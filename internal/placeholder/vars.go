package placeholder

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// kind identifies what a template part renders.
type kind uint8

const (
	kindLiteral kind = iota
	kindHost
	kindMethod
	kindPath
	kindQuery
	kindURI
	kindScheme
	kindRoute
	kindRequestID
	kindClientIP
	kindRemotePort
	kindHeader // arg: canonical header name
	kindQueryArg
	kindTLSClientSubject     // client certificate subject (mTLS)
	kindTLSClientFingerprint // SHA-256 of the client certificate, hex
	kindTLSClientSerial      // client certificate serial number, hex
)

// simpleVars maps placeholder names without an argument to their kind.
// A constant table, read-only (STYLE.md 1.8).
var simpleVars = map[string]kind{
	"host":        kindHost,
	"method":      kindMethod,
	"path":        kindPath,
	"query":       kindQuery,
	"uri":         kindURI,
	"scheme":      kindScheme,
	"route":       kindRoute,
	"request_id":  kindRequestID,
	"client_ip":   kindClientIP,
	"remote_port": kindRemotePort,

	"tls.client.subject":     kindTLSClientSubject,
	"tls.client.fingerprint": kindTLSClientFingerprint,
	"tls.client.serial":      kindTLSClientSerial,
}

// validHint lists the placeholders for error hints.
const validHint = "valid placeholders: {client_ip}, {header.NAME}, {host}, {method}, {path}, " +
	"{query}, {query.NAME}, {remote_port}, {request_id}, {route}, {scheme}, {uri}, " +
	"{tls.client.subject}, {tls.client.fingerprint}, {tls.client.serial}; write {{ for a literal '{'"

// appendVar appends the value of a non-literal part for r to dst.
func appendVar(dst []byte, p *part, r *http.Request) []byte {
	switch p.kind {
	case kindClientIP:
		if info := observe.InfoFrom(r.Context()); info != nil && info.ClientIP.IsValid() {
			return info.ClientIP.AppendTo(dst)
		}
		return dst
	}
	return append(dst, stringVar(p, r)...)
}

// stringVar returns the value of a non-literal part for r. It allocates only
// where the value does not exist as a string already ({client_ip}, a
// {query.NAME} that needs unescaping, {uri} with a query, {path} that needs
// escaping).
func stringVar(p *part, r *http.Request) string {
	switch p.kind {
	case kindHost:
		return r.Host
	case kindMethod:
		return r.Method
	case kindPath:
		// The escaped form, so that a value put into a URL (redirect
		// Location) stays one path: RFC 3986 section 3.3.
		return r.URL.EscapedPath()
	case kindQuery:
		return r.URL.RawQuery
	case kindURI:
		if r.URL.RawQuery == "" {
			return r.URL.EscapedPath()
		}
		return r.URL.EscapedPath() + "?" + r.URL.RawQuery
	case kindScheme:
		if info := observe.InfoFrom(r.Context()); info != nil && info.Scheme != "" {
			return info.Scheme
		}
		if r.TLS != nil {
			return "https"
		}
		return "http"
	case kindRoute:
		if info := observe.InfoFrom(r.Context()); info != nil {
			return info.Route
		}
		return ""
	case kindRequestID:
		if info := observe.InfoFrom(r.Context()); info != nil {
			return info.ID
		}
		return ""
	case kindClientIP:
		if info := observe.InfoFrom(r.Context()); info != nil && info.ClientIP.IsValid() {
			return info.ClientIP.String()
		}
		return ""
	case kindRemotePort:
		_, port, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return ""
		}
		return port
	case kindHeader:
		if vs := r.Header[p.arg]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	case kindQueryArg:
		return queryValue(r.URL.RawQuery, p.arg)
	case kindTLSClientSubject, kindTLSClientFingerprint, kindTLSClientSerial:
		return clientCertVar(p.kind, r)
	}
	return ""
}

// clientCertVar renders the {tls.client.*} placeholders from the client
// certificate the TLS handshake verified (or, with client_auth mode
// "request", merely received); "" without one. The subject is in RFC 4514
// form ("CN=alice,O=Example"); the fingerprint is the lower-case hex
// SHA-256 of the DER certificate, the form "openssl x509 -fingerprint
// -sha256" prints without colons; the serial is lower-case hex.
func clientCertVar(k kind, r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	c := r.TLS.PeerCertificates[0]
	switch k {
	case kindTLSClientSubject:
		return c.Subject.String()
	case kindTLSClientFingerprint:
		sum := sha256.Sum256(c.Raw)
		return hex.EncodeToString(sum[:])
	case kindTLSClientSerial:
		return c.SerialNumber.Text(16)
	}
	return ""
}

// queryValue returns the first value of parameter name in the raw query,
// unescaped, without building the url.Values map that r.URL.Query() would.
func queryValue(raw, name string) string {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		key, val, _ := strings.Cut(pair, "=")
		if key != name {
			if !strings.ContainsAny(key, "%+") {
				continue
			}
			if k, err := url.QueryUnescape(key); err != nil || k != name {
				continue
			}
		}
		if !strings.ContainsAny(val, "%+") {
			return val
		}
		v, err := url.QueryUnescape(val)
		if err != nil {
			return ""
		}
		return v
	}
	return ""
}
