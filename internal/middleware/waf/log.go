package waf

import (
	"net/http"

	"github.com/corazawaf/coraza/v3/types"

	"github.com/gatehouse-proxy/gatehouse/internal/observe"
)

// maxLoggedData bounds the matched data copied into a log line: it is the
// attacker's input.
const maxLoggedData = 200

// ruleMatch is one matched rule in the log line.
type ruleMatch struct {
	ID       int    `json:"id"`
	Severity string `json:"severity,omitempty"`
	Msg      string `json:"msg"`
	Data     string `json:"data,omitempty"`
}

// logMatches writes one line per request in which rules with a message
// matched (CRS bookkeeping rules have none): "waf blocked" when the request
// or response was refused, "waf match" otherwise (detection mode, or scores
// under the threshold). Both carry the request ID, route and client IP.
func (f *firewall) logMatches(tx types.Transaction, r *http.Request, info *observe.RequestInfo, refused int) {
	var matches []ruleMatch
	for _, mr := range tx.MatchedRules() {
		if mr.Message() == "" {
			continue
		}
		m := ruleMatch{ID: mr.Rule().ID(), Msg: mr.Message(), Data: mr.Data()}
		if sev := mr.Rule().Severity(); sev >= 0 {
			m.Severity = sev.String()
		}
		if len(m.Data) > maxLoggedData {
			m.Data = m.Data[:maxLoggedData] + "..."
		}
		matches = append(matches, m)
	}
	if len(matches) == 0 && refused == 0 {
		return
	}
	msg := "waf match"
	if refused != 0 {
		msg = "waf blocked"
	}
	args := []any{"request_id", requestID(info), "mode", f.cfg.Mode, "method", r.Method, "path", r.URL.Path}
	if info != nil {
		args = append(args, "route", info.Route, "client_ip", info.ClientIP.String())
	}
	if refused != 0 {
		args = append(args, "status", refused)
	}
	ids := make([]int, len(matches))
	for i, m := range matches {
		ids[i] = m.ID
	}
	args = append(args, "rule_ids", ids, "rules", matches)
	f.log.Info(msg, args...)
}
