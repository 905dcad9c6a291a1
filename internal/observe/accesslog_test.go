package observe

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the flusher goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAccessLogLineIsJSON(t *testing.T) {
	tests := []struct {
		name, path, host string
	}{
		{"plain", "/v1/users", "api.example.com"},
		{"quotes and backslash", `/a"b\c`, "h"},
		{"control characters", "/a\r\n{\"forged\":1}\x00\x7f", "h\t"},
		{"invalid utf-8", "/\xff\xfe", "\xc3"},
		{"unicode", "/café/😀", "bücher.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			l := NewAccessLog(&out)
			info := &RequestInfo{ID: "abc", ClientIP: netip.MustParseAddr("2001:db8::1"), Start: time.Unix(1700000000, 0), Route: "r", Upstream: "u", Target: "127.0.0.1:1", FirstByte: 1500 * time.Microsecond}
			l.Log(&AccessEntry{Info: info, Method: "GET", Host: tc.host, Path: tc.path, Status: 200, BytesIn: 3, BytesOut: 42, Duration: 2 * time.Millisecond})
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			line := out.String()
			if bytes.Count([]byte(line), []byte("\n")) != 1 {
				t.Fatalf("want exactly one line, got %q", line)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, line)
			}
			for _, k := range []string{"time", "request_id", "client_ip", "method", "host", "path", "status", "bytes_in", "bytes_out", "duration_ms", "upstream_ms", "route", "upstream", "target"} {
				if _, ok := got[k]; !ok {
					t.Errorf("field %q missing", k)
				}
			}
			if got["client_ip"] != "2001:db8::1" || got["status"] != float64(200) || got["upstream_ms"] != 1.5 {
				t.Errorf("fields: %v", got)
			}
			if tc.name == "plain" || tc.name == "unicode" || tc.name == "quotes and backslash" {
				if got["path"] != tc.path {
					t.Errorf("path %q, want %q", got["path"], tc.path)
				}
			}
		})
	}
}

// The auth fields appear only for requests an auth middleware admitted,
// and the user name is escaped like any request data.
func TestAccessLogAuthFields(t *testing.T) {
	tests := []struct {
		name, auth, user string
		want             map[string]any // nil: the fields are absent
	}{
		{"no auth", "", "", nil},
		{"basic", "basic", "alice", map[string]any{"auth": "basic", "user": "alice"}},
		{"no name", "forward", "", map[string]any{"auth": "forward", "user": ""}},
		{"hostile name", "jwt", "a\"}\n{\"x\":1", map[string]any{"auth": "jwt", "user": "a\"}\n{\"x\":1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			l := NewAccessLog(&out)
			info := &RequestInfo{ID: "abc", Start: time.Unix(1700000000, 0), Auth: tc.auth, User: tc.user}
			l.Log(&AccessEntry{Info: info, Method: "GET", Path: "/", Status: 200})
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out.String())
			}
			for _, k := range []string{"auth", "user"} {
				v, ok := got[k]
				if tc.want == nil {
					if ok {
						t.Errorf("%s present without auth: %v", k, v)
					}
				} else if v != tc.want[k] {
					t.Errorf("%s = %v, want %v", k, v, tc.want[k])
				}
			}
		})
	}
}

// Log is an append under a lock: no allocation per request.
func BenchmarkAccessLog(b *testing.B) {
	l := NewAccessLog(discardWriter{})
	defer l.Close()
	info := &RequestInfo{ID: "a0ni2tkbt5qegf7dnebp87r9ve", ClientIP: netip.MustParseAddr("10.1.2.3"), Start: time.Now(), Route: "api", Upstream: "api", Target: "10.0.0.5:8080"}
	e := &AccessEntry{Info: info, Method: "GET", Host: "api.example.com", Path: "/v1/users/42", Status: 200, BytesOut: 1024, Duration: time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		l.Log(e)
	}
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
