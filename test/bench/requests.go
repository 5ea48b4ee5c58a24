package main

// The small-request workloads, driven by a Go client (and wrk): 4 KiB PUT
// and GET, PROPFIND, appends, wc, and the RSS growth over 10,000 requests.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
}

// do sends one request, reads the whole answer and fails on a status >= 300.
func do(c *http.Client, method, url string, body []byte, hdr ...string) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode >= 300 {
		err = fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	return data, err
}

// hammer runs requests 0..n-1 on `workers` goroutines, stopping early after
// maxDur (0: never); it returns how many completed and the time taken.
func hammer(workers, n int, maxDur time.Duration, req func(i int) error) (int, time.Duration, error) {
	var next, doneN atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || (maxDur > 0 && time.Since(start) > maxDur) || firstErr.Load() != nil {
					return
				}
				if err := req(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				doneN.Add(1)
			}
		})
	}
	wg.Wait()
	err, _ := firstErr.Load().(error)
	return int(doneN.Load()), time.Since(start), err
}

const propfindBody = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/><D:getcontenttype/></D:prop></D:propfind>`

// memGrowth: 1,000 warm-up then 10,000 small requests (GET, HEAD, PROPFIND
// of 10 files, 4 KiB PUT) from 8 clients; RSS after, and its growth over
// the 10,000.
func (b *bench) memGrowth(order []*server) {
	body := bytes.Repeat([]byte("x"), 4*kib)
	for _, s := range order {
		c := newClient()
		prefix := fmt.Sprintf("mem/r%d/w", b.res.round) // warm-up names, then main-run names
		mixed := func(i int) error {
			var err error
			switch i % 10 {
			case 0, 1, 2, 3, 4, 5:
				_, err = do(c, "GET", s.getURL("small.bin"), nil)
			case 6:
				_, err = do(c, "HEAD", s.getURL("small.bin"), nil)
			case 7:
				_, err = do(c, "PROPFIND", s.davURL("dir10/"), []byte(propfindBody), "Depth", "1", "Content-Type", "application/xml")
			default:
				// New names: x/net answers 423 to concurrent PUTs of one name.
				_, err = do(c, "PUT", s.davURL(fmt.Sprintf("%s%d.bin", prefix, i)), body)
			}
			return err
		}
		if _, _, err := hammer(b.cfg.putClients, b.cfg.memWarmup, 0, mixed); err != nil {
			b.warn("small requests to %s: %v", s.name, err)
			continue
		}
		before := s.p.rss()
		prefix = fmt.Sprintf("mem/r%d/m", b.res.round)
		_, _, err := hammer(b.cfg.putClients, b.cfg.memN, 0, mixed)
		c.CloseIdleConnections()
		if err != nil {
			b.warn("small requests to %s: %v", s.name, err)
			continue
		}
		after := s.p.rss()
		b.res.add("rss_10k", s.name, mibOf(after))
		b.res.add("rss_growth", s.name, mibOf(after-before))
	}
}

// put4k: 8 clients with keep-alive PUT new 4 KiB files, into a directory
// of their own per round. Small files are never deleted during the run:
// ext4 skips inodes freed in the last minutes when it allocates new ones
// (find_inode_bit, recently_deleted), and a burst of deletions made the
// next server's file creation several times slower.
func (b *bench) put4k(order []*server) {
	body := bytes.Repeat([]byte("y"), 4*kib)
	type target struct {
		subject string
		dir     string // where the files land, to count them
		url     func(i int) string
	}
	var targets []target
	for _, s := range order {
		subject := s.name + " PUT"
		if s.isDavnas() {
			subject += " /dav"
		}
		if s == b.floor {
			subject = floorName + ", atomic PUT (limit)"
		}
		dir := filepath.Join(s.root, "put4k", fmt.Sprintf("r%d", b.res.round))
		targets = append(targets, target{subject, dir, func(i int) string { return s.davURL(fmt.Sprintf("put4k/r%d/f%06d.bin", b.res.round, i)) }})
	}
	targets = append(targets, target{"Go client → discard (limit)", "", func(i int) string { return fmt.Sprintf("%s/put4k/f%06d.bin", b.discardURL, i) }})
	for _, t := range targets {
		c := newClient()
		k, d, err := hammer(b.cfg.putClients, b.cfg.smallN, b.cfg.smallMax, func(i int) error {
			_, err := do(c, "PUT", t.url(i), body)
			return err
		})
		c.CloseIdleConnections()
		syscall.Sync()
		if t.dir != "" && err == nil {
			if ents, e := os.ReadDir(t.dir); e != nil || len(ents) < k {
				err = fmt.Errorf("%d files stored after %d PUTs (%v)", len(ents), k, e)
			}
		}
		if err != nil {
			b.warn("4 KiB PUT to %s: %v", t.subject, err)
			continue
		}
		b.res.add("put4k", t.subject, float64(k)/d.Seconds())
	}
}

var wrkRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// get4k: wrk, 2 threads, 32 connections; and, as the limit of Go's HTTP
// server, the discard server answering 4 KiB from memory.
func (b *bench) get4k(readers []*server) {
	if !b.have["wrk"] {
		return
	}
	type target struct{ subject, url string }
	var targets []target
	for _, s := range readers {
		subject := s.name + " GET"
		if s.isDavnas() {
			subject += " /file"
		}
		targets = append(targets, target{subject, s.getURL("small.bin")})
	}
	targets = append(targets, target{"Go server, 4 KiB from memory (limit)", b.discardURL + "/small"})
	for _, t := range targets {
		subject := t.subject
		out, err := run("wrk", "-t2", "-c32", "-d"+b.cfg.wrkDur.String(), t.url)
		m := wrkRate.FindStringSubmatch(out)
		if err == nil && m == nil {
			err = fmt.Errorf("no Requests/sec in wrk's output: %s", out)
		}
		if err == nil && strings.Contains(out, "Non-2xx") {
			err = fmt.Errorf("wrk saw errors: %s", out)
		}
		if err != nil {
			b.warn("wrk %s: %v", subject, err)
			continue
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		b.res.add("get4k", subject, v)
	}
}

// reps is how often the sub-second workloads (PROPFIND, wc) repeat per
// round; each repetition is a sample.
const reps = 3

// propfind: a Depth 1 PROPFIND of the 10,000-file collection, with the
// property list davfs2 and rclone ask for; seconds until the last byte.
func (b *bench) propfind(readers []*server) {
	b.propfindWith("propfind", []byte(propfindBody), readers)
}

// propfindAllprop: the same listing with an empty body (allprop: every
// live property and the dead ones), what curl and litmus send.
func (b *bench) propfindAllprop(readers []*server) {
	b.propfindWith("propfind_all", nil, readers)
}

func (b *bench) propfindWith(wl string, body []byte, readers []*server) {
	buf := make([]byte, 64*kib)
	for _, s := range readers {
		if s.kind == "nginx" && !b.have["dav_ext"] {
			continue
		}
		c := newClient()
		subject := s.name + " PROPFIND"
		if s.isDavnas() {
			subject += " /dav"
		}
		for range reps {
			var n int
			d, err := timed(func() error {
				var err error
				n, err = countResponses(c, s.davURL("dir10k/"), body, buf)
				return err
			})
			if err == nil && n != b.cfg.nFiles+1 {
				err = fmt.Errorf("%d responses, want %d", n, b.cfg.nFiles+1)
			}
			if err != nil {
				b.warn("PROPFIND (%s) %s: %v", wl, subject, err)
				break
			}
			b.res.add(wl, subject, d.Seconds())
		}
		c.CloseIdleConnections()
	}
}

// countResponses sends a Depth 1 PROPFIND and streams the multistatus
// through buf, counting its <D:response> elements: the listing's 4 MB are
// never held, so the client's own allocation and copying (io.ReadAll grew
// a buffer to twice the body, and on two cores that competed with the
// server for a core) stay out of the server's time.
func countResponses(c *http.Client, url string, body, buf []byte) (int, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest("PROPFIND", url, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Depth", "1")
	req.Header.Set("Content-Type", "application/xml")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("PROPFIND %s: %s", url, resp.Status)
	}
	return countTags(resp.Body, buf)
}

// countTags counts "response>" in r (each element has an opening and a
// closing tag, so half the count), including a tag split between reads.
func countTags(r io.Reader, buf []byte) (int, error) {
	tag := []byte("response>")
	keep := len(tag) - 1
	n, have := 0, 0 // have: bytes carried over from the last read
	for {
		m, err := r.Read(buf[have:])
		data := buf[:have+m]
		n += bytes.Count(data, tag)
		// Carry the tail that could begin a tag, unless it ends one
		// (counted already: a whole tag cannot fit in keep bytes).
		have = min(keep, len(data))
		copy(buf, data[len(data)-have:])
		if err == io.EOF {
			return n / 2, nil
		}
		if err != nil {
			return n / 2, err
		}
	}
}

// appends: 8 clients append 4 KiB to one file with PUT /file/NAME; the
// file's final size proves no append was lost.
func (b *bench) appends(order []*server) {
	body := bytes.Repeat([]byte("z"), 4*kib)
	for _, s := range order {
		if !s.isDavnas() {
			continue
		}
		path := filepath.Join(s.root, "append.log")
		os.WriteFile(path, nil, 0o644)
		c := newClient()
		k, d, err := hammer(b.cfg.putClients, b.cfg.smallN, b.cfg.smallMax, func(int) error {
			_, err := do(c, "PUT", s.base+"/file/append.log", body)
			return err
		})
		c.CloseIdleConnections()
		if got := fileSize(path); err == nil && got != int64(k)*4*kib {
			err = fmt.Errorf("append.log has %d bytes after %d appends of 4 KiB", got, k)
		}
		removeAndSync(path)
		if err != nil {
			b.warn("appends to %s: %v", s.name, err)
			continue
		}
		b.res.add("append", s.name+" PUT /file", float64(k)/d.Seconds())
	}
}

// wc: GET /file/big.bin/wc against wc -l of the same (cached) file.
func (b *bench) wc(order []*server) {
	path := b.src(b.cfg.big)
	var davnas *server
	for _, s := range order {
		if s.name == "davnas" {
			davnas = s
		}
	}
	c := newClient()
	defer c.CloseIdleConnections()
	for range reps {
		var want string
		d, err := timed(func() error {
			out, err := run("wc", "-l", path)
			want, _, _ = strings.Cut(strings.TrimSpace(out), " ")
			return err
		})
		if err != nil {
			fatalf("wc -l: %v", err)
		}
		b.res.add("wc", "wc -l (limit)", d.Seconds())
		var got []byte
		d, err = timed(func() error {
			var err error
			got, err = do(c, "GET", davnas.base+"/file/big.bin/wc", nil)
			return err
		})
		if err == nil && strings.TrimSpace(string(got)) != want {
			err = fmt.Errorf("counted %q lines, wc -l says %s", got, want)
		}
		if err != nil {
			b.warn("wc on davnas: %v", err)
			return
		}
		b.res.add("wc", "davnas GET /file/NAME/wc", d.Seconds())
	}
}
