package dnsc

import (
	"strings"
	"time"
)

// cache holds answers until their TTL runs out (NX_DNS_CACHE_ENABLE). When
// full, the entry closest to expiry makes room. Guarded by Client.mu.
type cache struct {
	max     int
	entries map[cacheKey]cacheEntry
}

type cacheKey struct {
	name  string
	qtype uint16
}

type cacheEntry struct {
	res     result
	expires time.Time
}

func newCache(max int) *cache { return &cache{max: max, entries: map[cacheKey]cacheEntry{}} }

func (c *cache) get(name string, qtype uint16, now time.Time) (result, bool) {
	k := cacheKey{strings.ToLower(name), qtype}
	e, ok := c.entries[k]
	if !ok {
		return result{}, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, k)
		return result{}, false
	}
	return result{addrs: append(e.res.addrs[:0:0], e.res.addrs...), names: append(e.res.names[:0:0], e.res.names...)}, true
}

func (c *cache) put(name string, qtype uint16, r result, expires time.Time) {
	k := cacheKey{strings.ToLower(name), qtype}
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		var victim cacheKey
		var first time.Time
		for key, e := range c.entries {
			if first.IsZero() || e.expires.Before(first) {
				victim, first = key, e.expires
			}
		}
		delete(c.entries, victim)
	}
	c.entries[k] = cacheEntry{res: result{addrs: append(r.addrs[:0:0], r.addrs...), names: append(r.names[:0:0], r.names...)}, expires: expires}
}

func (c *cache) len() int { return len(c.entries) }

func (c *cache) clear() { clear(c.entries) }
