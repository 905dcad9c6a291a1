package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
)

// PostOptions opt a route into caching POST responses (deterministic
// calls such as embeddings): the key then includes the SHA-256 of the
// request body.
type PostOptions struct {
	Enabled bool
	// MaxBody is the largest body that is hashed (default 1 MiB); a larger
	// one streams upstream uncached.
	MaxBody int64
	// CanonicalJSON hashes a JSON body in a canonical form (keys sorted, no
	// insignificant whitespace), so equivalent requests share an entry.
	CanonicalJSON bool
}

// bodyHash reads up to MaxBody bytes of r's body to hash them, and gives
// r a body that replays what was read followed by the rest, so the
// upstream still receives every byte. ok is false when the body is too
// large (or unreadable): the request is then forwarded uncached.
func (c *Cache) bodyHash(r *http.Request) (hash string, ok bool) {
	max := c.opts.Post.MaxBody
	if r.ContentLength > max {
		return "", false
	}
	orig := r.Body
	if orig == nil || orig == http.NoBody {
		return hashBytes(nil), true
	}
	buf, err := io.ReadAll(io.LimitReader(orig, max+1))
	if err != nil || int64(len(buf)) > max {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), orig), orig}
		return "", false
	}
	r.Body = readCloser{bytes.NewReader(buf), orig}
	r.ContentLength = int64(len(buf))
	if c.opts.Post.CanonicalJSON && isJSON(r.Header.Get("Content-Type")) {
		if canon, ok := canonicalJSON(buf); ok {
			return hashBytes(canon), true
		}
	}
	return hashBytes(buf), true
}

type readCloser struct {
	io.Reader
	io.Closer
}

func hashBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (len(mt) > 5 && mt[len(mt)-5:] == "+json")
}

// canonicalJSON re-encodes b with object keys sorted and no whitespace;
// numbers keep their literal text (1.0 and 1 stay different: a backend
// may tell them apart).
func canonicalJSON(b []byte) ([]byte, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	if d.More() {
		return nil, false
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	return out, true
}
