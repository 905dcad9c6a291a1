package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
)

func TestLogRetry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		reason string
	}{
		{"error", errors.New("dial tcp: connection refused"), 0, "dial tcp: connection refused"},
		{"status", nil, 503, "status 503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(slog.NewJSONHandler(&buf, nil))
			info := &RequestInfo{ID: "rid", Route: "api", Upstream: "be", Tries: 1}
			LogRetry(l, context.Background(), info, "GET", tc.err, tc.status, "10.0.0.2:80")
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, buf.Bytes())
			}
			want := map[string]any{"msg": "retrying upstream request", "level": "INFO", "request_id": "rid", "route": "api",
				"upstream": "be", "method": "GET", "try": float64(1), "reason": tc.reason, "next_target": "10.0.0.2:80"}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}
