package cluster

import (
	"context"
	"fmt"
	"sync"
)

// CachePurge fans cache purges out to every instance through Redis
// pub/sub, on one channel per cache name. Delivery is best effort (pub/sub
// keeps nothing for a disconnected subscriber): an instance that was cut
// off from Redis during a purge keeps its entries until they expire.
// Safe for concurrent use.
type CachePurge struct {
	c       *Cluster
	channel string
}

// CachePurge returns the purge bus for the cache named name, or nil when
// the cluster has no Redis (purges then stay local).
func (c *Cluster) CachePurge(name string) *CachePurge {
	if c.Redis() == nil {
		return nil
	}
	return &CachePurge{c: c, channel: c.prefix + "cache-purge:" + name}
}

// Publish sends msg to every subscriber (this instance's included).
func (p *CachePurge) Publish(ctx context.Context, msg []byte) error {
	if err := p.c.rdb.Publish(ctx, p.channel, msg).Err(); err != nil {
		return fmt.Errorf("cluster: publishing cache purge: %w", err)
	}
	return nil
}

// Subscribe calls handle with every message published on the bus, from
// one goroutine, until the returned stop function is called. go-redis
// resubscribes after a lost connection by itself.
func (p *CachePurge) Subscribe(handle func([]byte)) (stop func()) {
	ps := p.c.rdb.Subscribe(context.Background(), p.channel)
	ch := ps.Channel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m := range ch {
			handle([]byte(m.Payload))
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = ps.Close()
			wg.Wait()
		})
	}
}
