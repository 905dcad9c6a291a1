package waf

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Modes: what a decision of the rules does.
const (
	// ModeBlocking refuses a request (or response) the rules reject with 403.
	ModeBlocking = "blocking"
	// ModeDetection only logs what would have been refused.
	ModeDetection = "detection"
)

// Over-limit policies for request bodies longer than the inspection limit.
const (
	// OverLimitPass inspects the first Limit bytes and streams the rest to
	// the backend uninspected.
	OverLimitPass = "pass"
	// OverLimitReject answers 413 (RFC 9110 section 15.5.14).
	OverLimitReject = "reject"
)

// Defaults for settings left out. They mirror the CRS defaults (paranoia 1,
// thresholds 5 and 4) and keep the CPU spent per body bounded (see the docs).
const (
	DefaultParanoiaLevel     = 1
	DefaultInboundThreshold  = 5
	DefaultOutboundThreshold = 4
	DefaultRequestBodyLimit  = 64 << 10
	DefaultResponseBodyLimit = 512 << 10
)

// DefaultResponseMIMETypes are the response types inspected when response
// body inspection is on and mime_types is not set: the ones the CRS
// response rules (data leakages) are written for.
var DefaultResponseMIMETypes = []string{"text/html", "text/plain", "text/xml", "application/json"}

// maxLimit bounds the inspection buffers: both are held in memory, twice
// (ours and Coraza's copy), per in-flight request.
const maxLimit = 64 << 20

// Config is the middleware's settings, as written under `waf:`. The zero
// value (`- waf:` with no settings) is the CRS at paranoia 1 in blocking
// mode with request bodies inspected up to 64 KiB.
type Config struct {
	// Mode is "blocking" (default) or "detection" (log only, never refuse).
	Mode string `yaml:"mode"`
	// ParanoiaLevel is the CRS blocking paranoia level, 1 (default) to 4:
	// higher levels enable more rules and more false positives.
	ParanoiaLevel int `yaml:"paranoia_level"`
	// AnomalyThreshold is the CRS anomaly score at which a request
	// (inbound, default 5) or response (outbound, default 4) is refused. A
	// critical match scores 5, an error 4, a warning 3, a notice 2.
	AnomalyThreshold Thresholds `yaml:"anomaly_threshold"`
	// RequestBody controls request body inspection.
	RequestBody RequestBody `yaml:"request_body"`
	// ResponseBody controls response body inspection; `response_body:
	// true|false` is short for { inspect: true|false }. Off by default.
	ResponseBody ResponseBody `yaml:"response_body"`
	// Exclusions switch rules off, for the whole route or some paths.
	Exclusions []Exclusion `yaml:"exclusions"`
	// Directives are raw SecLang directives appended after the CRS and the
	// generated exclusions, for experts (SecRuleUpdateTargetById, ctl
	// rules, own SecRules). Errors in them fail the configuration.
	Directives string `yaml:"directives"`
}

// Thresholds are the CRS anomaly score thresholds; 0 means the default.
type Thresholds struct {
	Inbound  int `yaml:"inbound"`
	Outbound int `yaml:"outbound"`
}

// RequestBody controls request body inspection.
type RequestBody struct {
	// Inspect turns body inspection on (default true).
	Inspect *bool `yaml:"inspect"`
	// Limit is how many bytes are buffered and inspected before anything is
	// forwarded (default 64KB, at most 64MB).
	Limit config.Size `yaml:"limit"`
	// OverLimit is what happens to a longer body: "pass" (default: the rest
	// streams uninspected) or "reject" (413).
	OverLimit string `yaml:"over_limit"`
}

// ResponseBody controls response body inspection.
type ResponseBody struct {
	// Inspect turns response body inspection on (default false).
	Inspect bool `yaml:"inspect"`
	// Limit is how many bytes of a response are held back and inspected
	// before the response starts (default 512KB, at most 64MB); the rest
	// streams uninspected.
	Limit config.Size `yaml:"limit"`
	// MIMETypes are the Content-Types inspected (default text/html,
	// text/plain, text/xml, application/json). Others always stream.
	MIMETypes []string `yaml:"mime_types"`
}

// Exclusion switches rules off. With Paths, only for requests whose path
// matches one of them ("/api/search" exact, "/api/*" prefix); with Targets,
// only for those variables ("ARGS:q", "REQUEST_COOKIES:session") instead of
// the whole rule.
type Exclusion struct {
	RuleIDs []int             `yaml:"rule_ids"`
	Paths   config.StringList `yaml:"paths"`
	Targets config.StringList `yaml:"targets"`
}

// Checks for values that end up inside generated directives: anything that
// could close a quote or start a new directive is refused, so exclusions
// can never inject rules.
var (
	pathRe   = regexp.MustCompile(`^/[A-Za-z0-9._~!$&()+,;=:@%/-]*(/\*)?$`)
	targetRe = regexp.MustCompile(`^[A-Z_]+(:[A-Za-z0-9._~!$&()+=@%/-]+)?$`)
	mimeRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$`)
)

// decode reads the settings, accepting the `response_body: bool` shorthand.
func decode(spec config.MiddlewareSpec) (Config, error) {
	var shape map[string]any
	if err := spec.Decode(&shape); err != nil {
		return Config{}, err
	}
	var cfg Config
	if b, isBool := shape["response_body"].(bool); isBool {
		// Decode into the same fields with response_body typed as the
		// shorthand, so errors elsewhere keep their positions.
		var rest struct {
			Mode             string      `yaml:"mode"`
			ParanoiaLevel    int         `yaml:"paranoia_level"`
			AnomalyThreshold Thresholds  `yaml:"anomaly_threshold"`
			RequestBody      RequestBody `yaml:"request_body"`
			ResponseBody     bool        `yaml:"response_body"`
			Exclusions       []Exclusion `yaml:"exclusions"`
			Directives       string      `yaml:"directives"`
		}
		if err := spec.Decode(&rest); err != nil {
			return Config{}, err
		}
		cfg = Config{Mode: rest.Mode, ParanoiaLevel: rest.ParanoiaLevel, AnomalyThreshold: rest.AnomalyThreshold,
			RequestBody: rest.RequestBody, Exclusions: rest.Exclusions, Directives: rest.Directives}
		cfg.ResponseBody.Inspect = b
		return cfg, nil
	}
	err := spec.Decode(&cfg)
	return cfg, err
}

// normalize fills defaults and validates; errors are placed at pos.
func (c *Config) normalize(pos config.Pos) error {
	var errs config.ErrorList
	bad := func(hint, format string, args ...any) {
		errs = append(errs, config.Errorf(pos, hint, "waf: "+format, args...))
	}
	switch c.Mode {
	case "":
		c.Mode = ModeBlocking
	case ModeBlocking, ModeDetection:
	default:
		bad(`mode is "blocking" or "detection"`, "unknown mode %q", c.Mode)
	}
	switch {
	case c.ParanoiaLevel == 0:
		c.ParanoiaLevel = DefaultParanoiaLevel
	case c.ParanoiaLevel < 1 || c.ParanoiaLevel > 4:
		bad("paranoia_level is 1 (fewest false positives) to 4", "paranoia_level %d out of range", c.ParanoiaLevel)
	}
	if c.AnomalyThreshold.Inbound == 0 {
		c.AnomalyThreshold.Inbound = DefaultInboundThreshold
	}
	if c.AnomalyThreshold.Outbound == 0 {
		c.AnomalyThreshold.Outbound = DefaultOutboundThreshold
	}
	if c.AnomalyThreshold.Inbound < 1 || c.AnomalyThreshold.Outbound < 1 {
		bad("a critical match scores 5; the CRS default thresholds are inbound 5, outbound 4", "anomaly thresholds must be at least 1")
	}
	if c.RequestBody.Inspect == nil {
		on := true
		c.RequestBody.Inspect = &on
	}
	if c.RequestBody.Limit == 0 {
		c.RequestBody.Limit = DefaultRequestBodyLimit
	}
	if c.RequestBody.Limit < 0 || c.RequestBody.Limit > maxLimit {
		bad("the inspected prefix is held in memory per request; 128KB to a few MB is typical", "request_body.limit must be between 1 byte and 64MB")
	}
	switch c.RequestBody.OverLimit {
	case "":
		c.RequestBody.OverLimit = OverLimitPass
	case OverLimitPass, OverLimitReject:
	default:
		bad(`over_limit is "pass" (stream the rest uninspected) or "reject" (413)`, "unknown request_body.over_limit %q", c.RequestBody.OverLimit)
	}
	if c.ResponseBody.Limit == 0 {
		c.ResponseBody.Limit = DefaultResponseBodyLimit
	}
	if c.ResponseBody.Limit < 0 || c.ResponseBody.Limit > maxLimit {
		bad("", "response_body.limit must be between 1 byte and 64MB")
	}
	if len(c.ResponseBody.MIMETypes) == 0 {
		c.ResponseBody.MIMETypes = slices.Clone(DefaultResponseMIMETypes)
	}
	for i, m := range c.ResponseBody.MIMETypes {
		m = strings.ToLower(strings.TrimSpace(m))
		c.ResponseBody.MIMETypes[i] = m
		if !mimeRe.MatchString(m) {
			bad(`a media type without parameters, e.g. "text/html"`, "invalid response_body.mime_types entry %q", m)
		} else if m == "text/event-stream" {
			bad("server-sent events are streamed, never buffered", "text/event-stream cannot be inspected")
		}
	}
	for i, ex := range c.Exclusions {
		if err := ex.validate(); err != nil {
			bad(`e.g. { rule_ids: [942100], paths: ["/api/search"], targets: ["ARGS:q"] }`, "exclusions[%d]: %v", i, err)
		}
	}
	if strings.ContainsRune(c.Directives, 0) {
		bad("", "directives contain a NUL byte")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func (ex Exclusion) validate() error {
	if len(ex.RuleIDs) == 0 {
		return fmt.Errorf("rule_ids is required")
	}
	for _, id := range ex.RuleIDs {
		if id <= 0 {
			return fmt.Errorf("rule id %d is not a positive number", id)
		}
	}
	for _, p := range ex.Paths {
		if !pathRe.MatchString(p) {
			return fmt.Errorf(`path %q: a path starting with "/", optionally ending in "/*", without spaces or quotes`, p)
		}
	}
	for _, tg := range ex.Targets {
		if !targetRe.MatchString(tg) {
			return fmt.Errorf(`target %q: a variable such as ARGS, ARGS:name or REQUEST_COOKIES:name`, tg)
		}
	}
	return nil
}
