package awra

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// go-redis writes its internal notes (failed dials, pool errors) through a
// process-wide logger that prints to stderr. awragate reports Redis state
// changes itself, once per change, so these notes go to the debug log.
var redisLogOnce sync.Once

type zapRedisLogger struct {
	logger *zap.Logger
}

func (l zapRedisLogger) Printf(_ context.Context, format string, v ...any) {
	if ce := l.logger.Check(zap.DebugLevel, "go-redis"); ce != nil {
		ce.Write(zap.String("message", fmt.Sprintf(format, v...)))
	}
}

func routeRedisLogs(logger *zap.Logger) {
	redisLogOnce.Do(func() {
		redis.SetLogger(zapRedisLogger{logger: logger.Named("redis")})
	})
}
