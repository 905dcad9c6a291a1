// Package hide owns the "hide" middleware: it removes response headers
// that identify the backend's software (Server, X-Powered-By, ...) and, if
// asked, replaces the body of a backend's 5xx response with Gatehouse's
// own short error body, so stack traces and framework error pages never
// reach clients. Other responses stream through untouched.
package hide
