package main

// The round and the large-transfer workloads (uploads, downloads,
// concurrent uploads, the write limits); requests.go has the small ones.
// Each workload adds samples to b.res under a workload key (see
// workloads in report.go for titles, units and references) and a subject
// (the server and the way it was driven, or a "(limit)").

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// round restarts every server, then runs every workload against each of
// them, in an order rotated by the round number.
func (b *bench) round(r int) {
	b.res.round = r
	order := make([]*server, len(b.servers))
	for i := range b.servers {
		order[i] = b.servers[(i+r-1)%len(b.servers)]
	}
	for _, s := range append(order, b.floor) {
		if err := b.startServer(s, r); err != nil {
			fatalf("%v", err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	for _, s := range append(order, b.floor) {
		b.res.add("idle_rss", s.name, mibOf(s.p.rss()))
	}
	// Readers: both davnas instances read the same way; one is enough.
	var readers []*server
	for _, s := range order {
		if s.name != "davnas --fsync=false" {
			readers = append(readers, s)
		}
	}
	step := func(name string, f func()) {
		if !b.cfg.wants(name) {
			return
		}
		t := time.Now()
		syscall.Sync()
		f()
		logf("  %-28s %5.1fs", name, time.Since(t).Seconds())
	}
	// The big transfers and the 16 concurrent uploads each start on a fresh
	// server, so that their peak RSS is theirs alone (VmHWM since start).
	step(sizeLabel(b.cfg.big)+" uploads", func() { b.limitsAt(b.cfg.big); b.uploadsAt(order, b.cfg.big) })
	step(sizeLabel(b.cfg.big)+" downloads", func() { b.downloadsAt(readers, b.cfg.big) })
	step("16 concurrent uploads", func() { b.concurrent(order, 16) })
	step("10k small requests (RSS)", func() { b.memGrowth(order) })
	step("size/concurrency sweep", func() {
		for _, n := range b.cfg.sweep {
			b.limitsAt(n)
			b.uploadsAt(order, n)
			b.downloadsAt(readers, n)
		}
		for _, c := range b.cfg.concSweep {
			b.concurrent(order, c)
		}
	})
	step("4 KiB PUT", func() { b.put4k(append(order, b.floor)) })
	step("4 KiB GET (wrk)", func() { b.get4k(readers) })
	step("PROPFIND", func() { b.propfind(readers) })
	step("PROPFIND allprop", func() { b.propfindAllprop(readers) })
	step("appends", func() { b.appends(order) })
	step("wc", func() { b.wc(order) })
	for _, s := range append(order, b.floor) {
		s.p.stop()
	}
}

func mibOf(n int64) float64 { return float64(n) / mib }

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

func sizeLabel(n int64) string {
	if n >= gib && n%gib == 0 {
		return fmt.Sprintf("%d GiB", n/gib)
	}
	if n >= mib && n%mib == 0 {
		return fmt.Sprintf("%d MiB", n/mib)
	}
	return fmt.Sprintf("%d KiB", n/kib)
}

// Workload keys of the size sweep; the big size uses "upload"/"download".
func (b *bench) upKey(n int64) string {
	if n == b.cfg.big {
		return "upload"
	}
	return fmt.Sprintf("upload_%d", n)
}

func (b *bench) downKey(n int64) string {
	if n == b.cfg.big {
		return "download"
	}
	return fmt.Sprintf("download_%d", n)
}

func concKey(n int) string {
	if n == 16 {
		return "upload16"
	}
	return fmt.Sprintf("conc_%d", n)
}

// removeAndSync deletes what a sample wrote before syncing, so writeback of
// data nobody keeps does not cost the next sample.
func removeAndSync(paths ...string) {
	for _, p := range paths {
		os.RemoveAll(p)
	}
	syscall.Sync()
}

// fileSize is the size of the file at p, or -1.
func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return st.Size()
}

func (b *bench) warn(format string, args ...any) {
	quietAfterInterrupt()
	msg := fmt.Sprintf(format, args...)
	b.failed++
	logf("WARNING: %s", msg)
	b.res.note("round %d: %s", b.res.round, msg)
}

// --- uploads and downloads with curl ---

const curlUp = `cat "$1" | curl -sS -f -o /dev/null -X "$2" -H 'Transfer-Encoding: chunked' -T - "$3"`

func timed(f func() error) (time.Duration, error) {
	t := time.Now()
	err := f()
	return time.Since(t), err
}

// limitsAt measures the write limits at size n: the page-cache pipe, the
// durable disk (dd conv=fdatasync), curl into the discard server and (for
// the big size) raw loopback TCP.
func (b *bench) limitsAt(n int64) {
	src, dst := b.src(n), filepath.Join(b.tmp, "dst")
	key := b.upKey(n)
	for _, l := range []struct{ subject, script string }{
		{"pipe → cat > file (limit)", `cat "$1" | cat > "$2"`},
		{"pipe → dd conv=fdatasync (limit)", `cat "$1" | dd of="$2" bs=64K conv=fdatasync status=none`},
	} {
		d, err := timed(func() error { _, err := b.client(l.script, src, dst); return err })
		if err != nil {
			fatalf("%s: %v", l.subject, err)
		}
		b.res.add(key, l.subject, mbps(n, d))
		removeAndSync(dst)
	}
	if b.have["curl"] {
		d, err := timed(func() error { _, err := b.client(curlUp, src, "PUT", b.discardURL+"/x"); return err })
		if err != nil {
			fatalf("curl to the discard server: %v", err)
		}
		b.res.add(key, "curl → discard (limit)", mbps(n, d))
	}
	if n == b.cfg.big {
		rate := tcpRate(n)
		b.res.add("upload", "Go loopback TCP (limit)", rate)
		b.res.add("download", "Go loopback TCP (limit)", rate)
	}
}

// tcpRate sends n bytes from one goroutine to another over 127.0.0.1.
func tcpRate(n int64) float64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	goSafe(func() {
		c, err := ln.Accept()
		if err != nil {
			got <- 0
			return
		}
		defer c.Close()
		k, _ := io.CopyBuffer(io.Discard, struct{ io.Reader }{c}, make([]byte, 256*kib))
		got <- k
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fatalf("%v", err)
	}
	buf := make([]byte, 256*kib)
	t := time.Now()
	for left := n; left > 0; left -= int64(len(buf)) {
		if _, err := c.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			fatalf("loopback TCP: %v", err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	if k := <-got; k != n {
		fatalf("loopback TCP: received %d of %d bytes", k, n)
	}
	d := time.Since(t)
	c.Close()
	return mbps(n, d)
}

// uploadsAt uploads n bytes from a pipe with curl, chunked, to every server
// by every way it takes whole files; for the big size it also records the
// server's peak RSS and CPU seconds per GiB.
func (b *bench) uploadsAt(order []*server, n int64) {
	if !b.have["curl"] {
		return
	}
	src := b.src(n)
	for _, s := range order {
		for _, v := range s.uploadVias() {
			subject := s.name + " " + v.label
			if n == b.cfg.big {
				b.restart(s)
			}
			m := s.p.meter()
			d, err := timed(func() error { _, err := b.client(curlUp, src, v.method, s.uploadURL(v, "up.bin")); return err })
			peak, cpu := m.end()
			dst := filepath.Join(s.root, "up.bin")
			if got := fileSize(dst); err == nil && got != n {
				err = fmt.Errorf("stored %d bytes, want %d", got, n)
			}
			removeAndSync(dst)
			if err != nil {
				b.warn("upload %s to %s: %v", sizeLabel(n), subject, err)
				continue
			}
			b.res.add(b.upKey(n), subject, mbps(n, d))
			if n == b.cfg.big {
				b.res.add("peak_upload", subject, mibOf(peak))
				b.res.add("cpu_upload", subject, cpu/(float64(n)/gib))
			}
		}
	}
}

func (b *bench) downloadsAt(readers []*server, n int64) {
	if !b.have["curl"] {
		return
	}
	name := fmt.Sprintf("dl-%d.bin", n)
	if n == b.cfg.big {
		name = "big.bin"
	}
	for _, s := range readers {
		subject := s.name + " GET"
		if s.isDavnas() {
			subject += " /file"
		}
		if n == b.cfg.big {
			b.restart(s)
		}
		m := s.p.meter()
		d, err := timed(func() error { _, err := b.client(`curl -sS -f -o /dev/null "$1"`, s.getURL(name)); return err })
		peak, cpu := m.end()
		if err != nil {
			b.warn("download from %s: %v", subject, err)
			continue
		}
		b.res.add(b.downKey(n), subject, mbps(n, d))
		if n == b.cfg.big {
			b.res.add("peak_download", subject, mibOf(peak))
			b.res.add("cpu_download", subject, cpu/(float64(n)/gib))
		}
	}
}

// concurrent runs c uploads of cfg.concSize at once (curl from pipes):
// aggregate MB/s, and for 16 the server's peak RSS.
func (b *bench) concurrent(order []*server, c int) {
	if !b.have["curl"] {
		return
	}
	size := b.cfg.concSize
	src := b.src(size)
	key := concKey(c)
	type target struct {
		subject string
		url     func(i int) string
		s       *server
	}
	var targets []target
	for _, s := range order {
		v := s.uploadVias()[0] // davnas: POST /file (the pipelines' way); others: PUT
		targets = append(targets, target{s.name + " " + v.label, func(i int) string { return s.uploadURL(v, fmt.Sprintf("c%02d.bin", i)) }, s})
	}
	targets = append(targets, target{"curl → discard (limit)", func(i int) string { return fmt.Sprintf("%s/c%02d", b.discardURL, i) }, nil})
	for _, t := range targets {
		var m *meter
		if t.s != nil {
			if c == 16 {
				b.restart(t.s)
			}
			m = t.s.p.meter()
		}
		errs := make(chan error, c)
		d, _ := timed(func() error {
			var wg sync.WaitGroup
			for i := range c {
				wg.Go(func() {
					method := "PUT"
					if strings.Contains(t.subject, "POST") {
						method = "POST"
					}
					run := sh
					if c == 1 { // a single stream: pinned like workload 1
						run = b.client
					}
					_, err := run(curlUp, src, method, t.url(i))
					errs <- err
				})
			}
			wg.Wait()
			return nil
		})
		close(errs)
		var err error
		for e := range errs {
			if e != nil && err == nil {
				err = e
			}
		}
		if t.s != nil {
			peak, _ := m.end()
			var paths []string
			for i := range c {
				paths = append(paths, filepath.Join(t.s.root, fmt.Sprintf("c%02d.bin", i)))
			}
			removeAndSync(paths...)
			if err == nil && c == 16 {
				b.res.add("peak_upload16", t.subject, mibOf(peak))
			}
		}
		if err != nil {
			b.warn("%d concurrent uploads to %s: %v", c, t.subject, err)
			continue
		}
		b.res.add(key, t.subject, mbps(int64(c)*size, d))
	}
}
