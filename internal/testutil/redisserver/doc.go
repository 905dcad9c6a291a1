// Package redisserver starts a real redis-server for tests: on a free
// 127.0.0.1 port, without persistence, stopped by PID when the test ends.
// It is test support only; production code never imports it.
package redisserver
