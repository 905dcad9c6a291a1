package cors

import (
	"net/http"
	"strings"
)

// addVary adds name to the response's Vary field unless it is already
// listed or Vary is "*" (RFC 9110 section 12.5.5: the field is a list of
// case-insensitive names, possibly over several field lines; "*" already
// says the response varies on everything). Existing values are kept as
// they are; the name goes in a field line of its own.
func addVary(hd http.Header, name string) {
	if varyHas(hd["Vary"], name) {
		return
	}
	hd["Vary"] = append(hd["Vary"], name)
}

// varyHas reports whether the Vary field lines list name or "*".
func varyHas(values []string, name string) bool {
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.Trim(tok, " \t")
			if tok == "*" || strings.EqualFold(tok, name) {
				return true
			}
		}
	}
	return false
}
