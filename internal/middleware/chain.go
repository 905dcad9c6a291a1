package middleware

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// Build constructs the middleware of one chain, in config order, with each
// registered constructor. It reports every problem, not just the first: the
// result's error is a config.ErrorList (an unknown name carries a hint
// listing the registered ones; a constructor's positioned errors are kept
// as they are, any other error is placed at the entry's position).
func Build(specs []config.MiddlewareSpec, env Env) ([]Middleware, error) {
	mws := make([]Middleware, 0, len(specs))
	var errs config.ErrorList
	for _, spec := range specs {
		c, ok := Lookup(spec.Name)
		if !ok {
			errs = append(errs, config.Errorf(spec.Pos(), "registered middleware: "+strings.Join(Names(), ", "),
				"unknown middleware %q", spec.Name))
			continue
		}
		mw, err := c(spec, env)
		if err != nil {
			errs = append(errs, config.AsErrorList(fmt.Errorf("%s: %w", spec.Name, err), spec.Pos())...)
			continue
		}
		mws = append(mws, mw)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return mws, nil
}

// Chain returns h wrapped in mws so that mws[0] runs first (outermost), as
// the chain is written in the config. With no middleware it returns h.
func Chain(h http.Handler, mws ...Middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
