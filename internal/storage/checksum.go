package storage

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
)

// Sums are a file's checksums, lower-case hex, as ownCloud's oc:checksums
// and rclone's --webdav-vendor owncloud use them.
type Sums struct {
	SHA1 string
	MD5  string
}

// sumsXattr caches a file's Sums against its size and modification time,
// so a listing that asks for checksums reads each file once, not on every
// listing. A write changes the size or the time and so invalidates it.
const sumsXattr = "user.davnas.sums"

// sumsKey ties cached Sums to the version of the file they describe.
func sumsKey(fi fs.FileInfo) string {
	return fmt.Sprintf("%x %x %x", inode(fi), fi.Size(), fi.ModTime().UnixNano())
}

// memSums caches Sums where extended attributes are unavailable; bounded.
type memSums struct {
	mu sync.Mutex
	m  map[string]Sums
}

const memSumsMax = 10000

func (c *memSums) get(key string) (Sums, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *memSums) put(key string, v Sums) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= memSumsMax {
		c.m = make(map[string]Sums)
	}
	c.m[key] = v
}

// Checksums returns the SHA1 and MD5 of the file name, from the cache when
// it describes the file's current size and time, else by reading the file
// once (and caching the result).
func (s *Store) Checksums(ctx context.Context, name string) (Sums, error) {
	f, fi, err := s.Open(name)
	if err != nil {
		return Sums{}, err
	}
	defer f.Close()
	if fi.IsDir() {
		return Sums{}, pathErr("checksum", name, ErrIsDir)
	}
	key := sumsKey(fi)
	if v, ok := cachedSums(f, key); ok {
		return v, nil
	}
	if v, ok := s.sh.sums.get(key); ok {
		return v, nil
	}
	h := newHasher()
	bp := bufPool.Get().(*[]byte)
	_, err = io.CopyBuffer(h, readerOnly{&ctxReader{ctx, f}}, *bp)
	bufPool.Put(bp)
	if err != nil {
		return Sums{}, wrap("checksum", name, err)
	}
	v := h.sums()
	if !storeSums(f, key, v) {
		s.sh.sums.put(key, v)
	}
	return v, nil
}

func cachedSums(f *os.File, key string) (Sums, bool) {
	b, err := getXattr(f, sumsXattr)
	if err != nil {
		return Sums{}, false
	}
	k, rest, ok := strings.Cut(string(b), "|")
	if !ok || k != key {
		return Sums{}, false
	}
	sha, md, ok := strings.Cut(rest, "|")
	if !ok || len(sha) != 40 || len(md) != 32 {
		return Sums{}, false
	}
	return Sums{SHA1: sha, MD5: md}, true
}

func storeSums(f *os.File, key string, v Sums) bool {
	return setXattr(f, sumsXattr, []byte(key+"|"+v.SHA1+"|"+v.MD5)) == nil
}

// hasher computes Sums in one pass.
type hasher struct{ sha, md hash.Hash }

func newHasher() *hasher { return &hasher{sha: sha1.New(), md: md5.New()} }

func (h *hasher) Write(p []byte) (int, error) {
	h.sha.Write(p)
	h.md.Write(p)
	return len(p), nil
}

func (h *hasher) sums() Sums {
	return Sums{SHA1: hex.EncodeToString(h.sha.Sum(nil)), MD5: hex.EncodeToString(h.md.Sum(nil))}
}

// ctxReader stops a long read when the request is gone.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ErrChecksum is returned when an upload's announced checksum does not
// match its content; the upload is discarded.
var ErrChecksum = errors.New("checksum mismatch")
