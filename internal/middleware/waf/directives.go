package waf

import (
	"fmt"
	"strconv"
	"strings"
)

// FirstGeneratedRuleID is the first ID of the rules Gatehouse generates for
// path exclusions; IDs from it to 99999 are reserved (the CRS leaves
// 1-99999 to local rules and uses 900000-999999 itself).
const FirstGeneratedRuleID = 90000

// directives renders a normalized Config as the SecLang text Coraza loads.
// The order matters: engine settings, body-processor rules, CRS setup with
// our paranoia and thresholds, path exclusions (runtime ctl rules must run
// before the rules they remove), the CRS itself, then configure-time
// exclusions (SecRuleRemoveById needs the rules defined) and the
// operator's own directives last, so they can adjust anything above.
func directives(c Config) string {
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	if c.Mode == ModeDetection {
		line("SecRuleEngine DetectionOnly")
	} else {
		line("SecRuleEngine On")
	}
	line("SecRequestBodyAccess %s", onOff(*c.RequestBody.Inspect))
	// The middleware writes at most limit+1 bytes into Coraza; with the
	// engine's own limit at limit+1, Coraza marks INBOUND_DATA_ERROR only for
	// bodies over the limit (its check is ">="), and keeps everything in
	// memory (no temporary files for the body buffer). The over-limit policy
	// is applied by the middleware, so Coraza always processes partially.
	line("SecRequestBodyLimit %d", int64(c.RequestBody.Limit)+1)
	line("SecRequestBodyInMemoryLimit %d", int64(c.RequestBody.Limit)+1)
	line("SecRequestBodyLimitAction ProcessPartial")
	line("SecRequestBodyJsonDepthLimit 1024")
	line("SecArgumentsLimit 1000")
	line("SecResponseBodyAccess %s", onOff(c.ResponseBody.Inspect))
	line("SecResponseBodyLimit %d", int64(c.ResponseBody.Limit)+1)
	line("SecResponseBodyLimitAction ProcessPartial")
	line("SecResponseBodyMimeType %s", strings.Join(c.ResponseBody.MIMETypes, " "))
	// From Coraza's coraza.conf-recommended: choose the XML and JSON body
	// processors by Content-Type, refuse bodies and URIs that fail to parse
	// (an attacker's way around inspection). A body cut at the inspection
	// limit (INBOUND_DATA_ERROR=1) is expected not to parse and is exempt,
	// otherwise every large JSON or multipart upload would be refused.
	line(`SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"`)
	line(`SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"`)
	line(`SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" "id:200006,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"`)
	line(`SecRule URI_PARSE_ERROR "@eq 1" "id:200009,phase:1,t:none,log,deny,status:400,msg:'URI failed to parse.'"`)
	line(`SecRule INBOUND_DATA_ERROR "!@eq 1" "id:200002,phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',severity:2,chain"`)
	line(`  SecRule REQBODY_ERROR "!@eq 0" "t:none"`)
	line(`SecRule INBOUND_DATA_ERROR "!@eq 1" "id:200003,phase:2,t:none,log,deny,status:400,msg:'Multipart request body failed strict validation.',chain"`)
	line(`  SecRule MULTIPART_STRICT_ERROR "!@eq 0" "t:none"`)
	line(`SecRule ARGUMENTS_LIMIT_REACHED "@eq 1" "id:200004,phase:1,t:none,log,deny,status:400,msg:'Argument limit reached.'"`)
	line(`SecRule ARGUMENTS_LIMIT_REACHED "@eq 1" "id:200005,phase:2,t:none,log,deny,status:400,msg:'Argument limit reached.'"`)

	line("Include @crs-setup.conf.example")
	// CRS 4 reads these in REQUEST-901 and keeps values already set
	// (crs-setup.conf.example, rules 900000 and 900110).
	line(`SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d"`, c.ParanoiaLevel)
	line(`SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=%d"`,
		c.AnomalyThreshold.Inbound, c.AnomalyThreshold.Outbound)

	id := FirstGeneratedRuleID
	for _, ex := range c.Exclusions {
		if len(ex.Paths) == 0 {
			continue
		}
		ctl := ex.ctlActions()
		for _, p := range ex.Paths {
			if prefix, ok := strings.CutSuffix(p, "/*"); ok {
				// "/api/*" matches "/api" and everything below it, like the
				// route matcher's prefix form.
				if prefix != "" {
					line(`SecRule REQUEST_FILENAME "@streq %s" "id:%d,phase:1,pass,nolog,t:none,%s"`, prefix, id, ctl)
					id++
				}
				line(`SecRule REQUEST_FILENAME "@beginsWith %s/" "id:%d,phase:1,pass,nolog,t:none,%s"`, prefix, id, ctl)
			} else {
				line(`SecRule REQUEST_FILENAME "@streq %s" "id:%d,phase:1,pass,nolog,t:none,%s"`, p, id, ctl)
			}
			id++
		}
	}

	line("Include @owasp_crs/*.conf")

	for _, ex := range c.Exclusions {
		if len(ex.Paths) > 0 {
			continue
		}
		if len(ex.Targets) == 0 {
			line("SecRuleRemoveById %s", joinIDs(ex.RuleIDs, " "))
			continue
		}
		for _, rid := range ex.RuleIDs {
			for _, tg := range ex.Targets {
				line(`SecRuleUpdateTargetById %d "!%s"`, rid, tg)
			}
		}
	}
	if c.Directives != "" {
		b.WriteString(c.Directives)
		b.WriteByte('\n')
	}
	return b.String()
}

// ctlActions are the runtime actions that switch an exclusion's rules (or
// only its targets) off for the current transaction.
func (ex Exclusion) ctlActions() string {
	var parts []string
	for _, rid := range ex.RuleIDs {
		if len(ex.Targets) == 0 {
			parts = append(parts, "ctl:ruleRemoveById="+strconv.Itoa(rid))
			continue
		}
		for _, tg := range ex.Targets {
			parts = append(parts, "ctl:ruleRemoveTargetById="+strconv.Itoa(rid)+";"+tg)
		}
	}
	return strings.Join(parts, ",")
}

func joinIDs(ids []int, sep string) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, sep)
}

func onOff(b bool) string {
	if b {
		return "On"
	}
	return "Off"
}
