package transform

import (
	"net/url"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// cleanRest returns an escaped path with its dot segments (decoded or
// percent-encoded) resolved, as a rooted path: it can never go above "/"
// (protocol.SetEscapedPath, RFC 3986 section 5.2.4).
func cleanRest(escaped string) string {
	if escaped == "" {
		return ""
	}
	var u url.URL
	protocol.SetEscapedPath(&u, escaped)
	return u.EscapedPath()
}
