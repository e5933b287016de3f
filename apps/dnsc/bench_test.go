package dnsc_test

import (
	"context"
	"testing"

	"github.com/simboard/simboard/apps/dnsc"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
)

// BenchmarkHostByNameGet: one A query and reply across the Wire to the
// peer's miekg/dns server (cache off), and one answered from the cache.
func BenchmarkHostByNameGet(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache int
	}{{"wire", -1}, {"cached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			cl, srv := boardtest.Pair(b, boardtest.Options{IPv6: true})
			startZoneB(b, srv)
			c, err := dnsc.New(dnsc.Options{IP: cl.IP, CacheSize: bc.cache})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Delete()
			_ = c.ServerAdd(srv.Addr)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.HostByNameGet(ctx, mailName, dnsc.TypeA, nx.Seconds(2)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
