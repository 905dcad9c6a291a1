package cluster

import (
	"context"
	"fmt"
	"log/slog"
)

// RedisLog adapts a slog.Logger to go-redis' internal logger, which
// otherwise prints plain text to stderr (e.g. "failed to dial" while Redis
// is down) beside Gatehouse's JSON lines. go-redis keeps that logger in a
// package variable, so only the program's main should install it, once:
//
//	redis.SetLogger(cluster.RedisLog{Logger: logger})
//
// Messages are logged at Debug: the Cluster itself logs outages and
// recoveries once each at Warn and Info.
type RedisLog struct {
	Logger *slog.Logger
}

// Printf implements go-redis' internal.Logging.
func (l RedisLog) Printf(ctx context.Context, format string, v ...any) {
	if l.Logger == nil || !l.Logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	l.Logger.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
