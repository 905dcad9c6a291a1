package observe

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// AccessEntry is what one access-log line records beyond RequestInfo.
type AccessEntry struct {
	Info     *RequestInfo
	Method   string
	Host     string
	Path     string
	Status   int
	BytesIn  int64
	BytesOut int64
	Duration time.Duration
}

// AccessLog writes one JSON object per request. Lines are built into a
// buffer under a short lock and flushed by a background goroutine every
// FlushEvery (or when the buffer passes 64 KiB), so a request never waits
// on the output's write: logging costs an append, not a syscall.
//
// Safe for concurrent use. Close flushes and stops the flusher.
type AccessLog struct {
	mu       sync.Mutex
	buf      []byte
	out      io.Writer
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// accessFlushEvery bounds how stale the access log on disk can be.
const accessFlushEvery = 100 * time.Millisecond

// accessFlushBytes flushes early when this much is buffered.
const accessFlushBytes = 64 << 10

// NewAccessLog starts an access log writing to out.
func NewAccessLog(out io.Writer) *AccessLog {
	l := &AccessLog{out: out, buf: make([]byte, 0, accessFlushBytes), stop: make(chan struct{}), done: make(chan struct{})}
	go l.flusher()
	return l
}

func (l *AccessLog) flusher() {
	defer close(l.done)
	t := time.NewTicker(accessFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.Flush()
		case <-l.stop:
			l.Flush()
			return
		}
	}
}

// Flush writes what is buffered. Write errors are dropped: a full disk must
// not stop traffic (the error log reports nothing either, to avoid a storm).
func (l *AccessLog) Flush() {
	l.mu.Lock()
	if len(l.buf) > 0 {
		_, _ = l.out.Write(l.buf)
		l.buf = l.buf[:0]
	}
	l.mu.Unlock()
}

// Close flushes and stops the background flusher. Idempotent and safe to
// call from several goroutines.
func (l *AccessLog) Close() error {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	return nil
}

// Log records one request.
func (l *AccessLog) Log(e *AccessEntry) {
	l.mu.Lock()
	l.buf = appendEntry(l.buf, e)
	full := len(l.buf) >= accessFlushBytes
	if full {
		_, _ = l.out.Write(l.buf)
		l.buf = l.buf[:0]
	}
	l.mu.Unlock()
}

func appendEntry(b []byte, e *AccessEntry) []byte {
	info := e.Info
	b = append(b, `{"time":"`...)
	b = info.Start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","request_id":`...)
	b = appendJSONString(b, info.ID)
	b = append(b, `,"client_ip":`...)
	if info.ClientIP.IsValid() {
		b = append(b, '"')
		b = info.ClientIP.AppendTo(b)
		b = append(b, '"')
	} else {
		b = append(b, `""`...)
	}
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.Method)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, e.Host)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, e.BytesIn, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, e.BytesOut, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(e.Duration.Microseconds())/1000, 'f', 3, 64)
	b = append(b, `,"upstream_ms":`...)
	b = strconv.AppendFloat(b, float64(info.FirstByte.Microseconds())/1000, 'f', 3, 64)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, info.Route)
	b = append(b, `,"upstream":`...)
	b = appendJSONString(b, info.Upstream)
	b = append(b, `,"target":`...)
	b = appendJSONString(b, info.Target)
	if info.Tries > 0 {
		b = append(b, `,"pick":`...)
		b = appendJSONString(b, info.Pick)
		b = append(b, `,"tries":`...)
		b = strconv.AppendInt(b, int64(info.Tries), 10)
	}
	if info.Auth != "" {
		b = append(b, `,"auth":`...)
		b = appendJSONString(b, info.Auth)
		b = append(b, `,"user":`...)
		b = appendJSONString(b, info.User)
	}
	b = append(b, "}\n"...)
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string (RFC 8259 §7). Request data is
// hostile: control characters and invalid UTF-8 are escaped or replaced so a
// client can never forge a log line.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
