// Package compress registers the "compress" middleware: it decodes the
// route's settings and builds an internal/compress.Compressor, which does
// the negotiation and the encoding. Nothing else lives here.
package compress
