package observe

import (
	"context"
	"log/slog"
	"strconv"
)

// LogRetry records, for operators, that a request is sent again to next
// after a failed try: err, or a retryable status when err is nil. Both
// engines' proxies call it, so the record is the same on both.
func LogRetry(l *slog.Logger, ctx context.Context, info *RequestInfo, method string, err error, status int, next string) {
	reason := "status " + strconv.Itoa(status)
	if err != nil {
		reason = err.Error()
	}
	l.LogAttrs(ctx, slog.LevelInfo, "retrying upstream request",
		slog.String("request_id", info.ID),
		slog.String("route", info.Route),
		slog.String("upstream", info.Upstream),
		slog.String("method", method),
		slog.Int("try", info.Tries),
		slog.String("reason", reason),
		slog.String("next_target", next),
	)
}
