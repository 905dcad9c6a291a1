package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// lineLog collects the lines a process writes to one stream and lets tests
// wait for a line matching a predicate.
type lineLog struct {
	mu      sync.Mutex
	lines   []string
	partial []byte
	changed chan struct{} // closed and replaced on every new line
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

// Write implements io.Writer for exec.Cmd.Stdout/Stderr; it splits lines.
func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// Len is the number of complete lines so far; use it as a mark before an
// action, then wait for lines from that mark.
func (l *lineLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// Lines returns a copy of all complete lines.
func (l *lineLog) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// entry is one decoded JSON log line (nil map when the line is not JSON).
type entry map[string]any

func (e entry) str(k string) string {
	v, ok := e[k]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// num returns a numeric field (JSON numbers decode as float64); 0 when
// absent or not a number.
func (e entry) num(k string) float64 {
	f, _ := e[k].(float64)
	return f
}

func parseEntry(line string) entry {
	var e entry
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		return nil
	}
	return e
}

// waitFor returns the first line at index >= from for which pred holds,
// waiting up to timeout. done, when closed, ends the wait early (process
// exited) after a last scan.
func (l *lineLog) waitFor(from int, timeout time.Duration, done <-chan struct{}, pred func(entry, string) bool) (entry, string, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	next := from
	exited := false
	for {
		l.mu.Lock()
		lines := l.lines[next:]
		ch := l.changed
		l.mu.Unlock()
		for _, s := range lines {
			if e := parseEntry(s); pred(e, s) {
				return e, s, true
			}
			next++
		}
		if exited {
			return nil, "", false
		}
		select {
		case <-ch:
		case <-done:
			exited = true // scan once more: output may race the exit
			done = nil
		case <-deadline.C:
			return nil, "", false
		}
	}
}
