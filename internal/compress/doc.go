// Package compress owns response compression: negotiating a content coding
// from Accept-Encoding (RFC 9110 section 12.5.3), the gzip, zstd and brotli
// encoders (pooled), which responses may be compressed, and the streaming
// response writer that compresses them on the fly.
//
// It has no dependency on internal/middleware: the "compress" middleware in
// internal/middleware/compress decodes its config and calls New, and the
// static-files action (internal/action) uses ParseEncoding and Negotiate to
// choose pre-compressed files. Nothing here buffers a whole body: at most
// Options.MinSize bytes are held while deciding, and a flush from upstream
// flushes the encoder, so streams keep flowing.
package compress
