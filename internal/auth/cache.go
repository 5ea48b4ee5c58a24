package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Verification cache: a mount sends thousands of requests with the same
// credentials, and bcrypt costs 50-100 ms each on purpose.
const (
	cacheTTL = 5 * time.Minute
	cacheMax = 10000
)

type verifyCache struct {
	mu sync.Mutex
	m  map[[32]byte]cacheEntry
}

type cacheEntry struct {
	hash    string // the user's bcrypt hash when verified
	expires time.Time
}

// cacheKey hashes user and password; the password itself is never kept.
func cacheKey(name, pass string) [32]byte {
	return sha256.Sum256([]byte(name + "\x00" + pass))
}

func (c *verifyCache) get(key [32]byte, hash []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	return ok && e.hash == string(hash) && time.Now().Before(e.expires)
}

func (c *verifyCache) put(key [32]byte, hash []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[32]byte]cacheEntry)
	}
	if len(c.m) >= cacheMax {
		now := time.Now()
		for k, e := range c.m {
			if now.After(e.expires) || len(c.m) >= cacheMax {
				delete(c.m, k)
			}
		}
	}
	c.m[key] = cacheEntry{hash: string(hash), expires: time.Now().Add(cacheTTL)}
}

// Failed attempts per client address: past failLimit within failWindow,
// every attempt from that address is refused until the window ends.
var (
	failLimit  = 10
	failWindow = time.Minute
)

const failMaxAddrs = 100000

type failLimiter struct {
	mu sync.Mutex
	m  map[string]*failCount
}

type failCount struct {
	n     int
	start time.Time
}

func (l *failLimiter) blocked(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.m[ip]
	if !ok {
		return false
	}
	if time.Since(c.start) > failWindow {
		delete(l.m, ip)
		return false
	}
	return c.n >= failLimit
}

func (l *failLimiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]*failCount)
	}
	c, ok := l.m[ip]
	if !ok || time.Since(c.start) > failWindow {
		if len(l.m) >= failMaxAddrs {
			for k, v := range l.m {
				if time.Since(v.start) > failWindow {
					delete(l.m, k)
				}
			}
			if len(l.m) >= failMaxAddrs {
				return // under a flood, stop tracking new addresses rather than grow
			}
		}
		l.m[ip] = &failCount{n: 1, start: time.Now()}
		return
	}
	c.n++
}

// RetryAfter is how long a rate-limited client should wait, in seconds.
func RetryAfter() int { return int(failWindow / time.Second) }
