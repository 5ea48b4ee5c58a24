// Command bench is davnas's end-to-end benchmark: it builds the davnas
// binary, starts it next to reference servers on 127.0.0.1, drives them
// with real clients (curl, wrk, a Go client) and reports medians, ratios
// against references measured in the same run, and PASS/FAIL per target.
//
//	go run ./test/bench            # full run, 5 rounds, under 10 minutes on 2 cores
//	go run ./test/bench -quick     # 1 round, smaller sizes: 1-2 minutes
//
// # Method
//
// Servers: davnas with its default flags (--fsync on), a second davnas with
// --fsync=false, a bare golang.org/x/net/webdav server (xnetserver/) and
// nginx with its dav module and dav_ext (PROPFIND). Limits, measured the same
// way in the same run: the page-cache write rate of a pipe (cat | cat >
// file), the durable write rate of the disk (cat | dd conv=fdatasync), raw
// loopback TCP between two goroutines, curl uploading to a server that
// discards the body (discardserver/), a Go client doing 4 KiB PUTs to it,
// and wc -l. One more limit, floorserver/, is the least a Go server can be
// while linking the libraries davnas's issues require and creating files
// atomically: its idle RSS and its 4 KiB PUT rate bound davnas's.
//
// Every figure is the median of -rounds interleaved rounds: each round
// restarts every server (so idle RSS and VmHWM start fresh), then runs each
// workload against every server in turn, in an order rotated every round,
// so that a noisy minute of the machine spreads over all of them. sync(2)
// runs before each workload and after each large write (uploaded files are
// deleted first, so writeback of earlier gigabytes never lands in a later
// sample). Memory is VmRSS of the server's process tree, sampled every
// 20 ms during a workload (and VmHWM where that is exact); CPU is utime +
// stime from /proc/PID/stat around the workload, refined to the nanosecond
// by the threads' /proc/PID/task/TID/schedstat.
//
// # Output
//
// In -out (default test/bench/results/): results.md (the table of medians
// with "= 1.05x x/net" ratios, then the targets), samples.json (every raw
// sample, with the machine and the settings), scaling.svg (MB/s against file
// size and against concurrent uploads). The table is printed too. A ratio is
// the value divided by the reference's value: for MB/s and req/s above 1 is
// better, for seconds, MiB and CPU s/GiB below 1 is better. MB is 10^6 bytes.
//
// The exit status is 1 when a sample failed (a server answered an error,
// stored the wrong number of bytes or files, or counted lines wrongly); a
// target that is missed is reported as FAIL but does not change it.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

type config struct {
	quick      bool
	rounds     int
	out        string
	tmpParent  string
	big        int64   // the "1 GiB" of workloads 1, 2, 8
	sweep      []int64 // extra sizes for the plot (the big size is added)
	concSize   int64   // each of the 16 concurrent uploads
	concSweep  []int   // concurrency levels for the plot (16 is workload 3)
	smallN     int     // requests per 4 KiB PUT / append sample
	smallMax   time.Duration
	wrkDur     time.Duration
	nFiles     int // PROPFIND collection
	memN       int // small requests of the growth check
	memWarmup  int
	putClients int
	only       string // comma-separated words; empty: every workload
	warm       bool   // pause free page reporting, touch free memory (warm.go)
	pin        bool   // pin single-stream clients to one CPU (pin.go)
}

// wants reports whether the workload step named name is to run.
func (c config) wants(name string) bool {
	if c.only == "" {
		return true
	}
	for w := range strings.SplitSeq(c.only, ",") {
		if w = strings.TrimSpace(w); w != "" && strings.Contains(strings.ToLower(name), strings.ToLower(w)) {
			return true
		}
	}
	return false
}

type bench struct {
	cfg        config
	tmp        string
	root       string // module root
	have       map[string]bool
	servers    []*server
	floor      *server // floorserver/: a limit, measured for idle RSS and 4 KiB PUT only
	discardURL string
	res        *results
	start      time.Time
	failed     int           // samples that failed (a server error, a wrong count): exit status 1
	warmBytes  int64         // free memory touched before round 1 (warm.go)
	warmSys    time.Duration // the system time that took
	pin        int           // CPU of the single-stream clients, or -1 (pin.go)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func main() {
	var c config
	flag.BoolVar(&c.quick, "quick", false, "1 round, 256 MiB instead of 1 GiB, 16×16 MiB, shorter wrk and PUT runs: under a minute")
	flag.IntVar(&c.rounds, "rounds", 0, "interleaved rounds; each figure is their median (default 5, 1 with -quick)")
	flag.StringVar(&c.out, "out", "test/bench/results", "directory for results.md, samples.json and scaling.svg")
	flag.StringVar(&c.tmpParent, "tmp", "", "parent of the temporary directory; must be on the disk under test (default: $TMPDIR if on the same file system as -out, else -out)")
	flag.DurationVar(&c.wrkDur, "wrk-duration", 0, "duration of each wrk run (default 5s, 2s with -quick)")
	flag.BoolVar(&c.warm, "warm", true, "pause the kernel's free page reporting while the bench runs (restored at exit) and touch free memory once before measuring, so that no sample pays a host's faults for memory it took back")
	flag.BoolVar(&c.pin, "pin", true, "run the single-stream transfers' clients (cat, curl, dd) on the last CPU, leaving the servers free, so that where the scheduler puts curl does not decide the rate")
	flag.StringVar(&c.only, "only", "", "run only the workloads whose names contain one of these comma-separated words (e.g. \"PUT,GET,PROPFIND\"); default all")
	flag.Parse()

	c.big, c.sweep, c.concSize, c.concSweep = gib, []int64{mib, 16 * mib, 256 * mib}, 64*mib, []int{1, 4}
	c.smallN, c.smallMax, c.nFiles, c.memN, c.memWarmup, c.putClients = 10000, 4*time.Second, 10000, 10000, 1000, 8
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.quick {
		c.big, c.sweep, c.concSize = 256*mib, []int64{mib, 16 * mib}, 16*mib
		c.smallN, c.smallMax = 3000, 2*time.Second
		def(&c.rounds, 1)
		if c.wrkDur == 0 {
			c.wrkDur = 2 * time.Second
		}
	}
	def(&c.rounds, 5)
	if c.wrkDur == 0 {
		c.wrkDur = 5 * time.Second
	}

	b := &bench{cfg: c, res: newResults(), start: time.Now(), pin: pinCPU(c.pin)}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		logf("%v: stopping servers and removing temporary files", s)
		cancelRoot()
		runCleanups()
		os.Exit(130)
	}()
	defer func() {
		if r := recover(); r != nil {
			cancelRoot()
			runCleanups()
			panic(r)
		}
	}()
	b.run()
	cancelRoot()
	runCleanups()
	logf("done in %s", time.Since(b.start).Round(time.Second))
	if b.failed > 0 {
		logf("%d sample(s) failed; see the notes", b.failed)
		os.Exit(1)
	}
}

func (b *bench) run() {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		fatalf("run from inside the davnas module (go env GOMOD: %q %v)", gomod, err)
	}
	b.root = filepath.Dir(gomod)
	if err := os.Chdir(b.root); err != nil {
		fatalf("%v", err)
	}
	if err := os.MkdirAll(b.cfg.out, 0o755); err != nil {
		fatalf("%v", err)
	}
	b.makeTemp()
	b.ensureTools()
	logf("building davnas and the reference servers")
	b.build()
	logf("writing fixtures in %s", b.tmp)
	b.fixtures()
	b.startDiscard()
	if b.cfg.warm {
		b.warmMemory()
	}
	if b.pin >= 0 && (b.cfg.wants(sizeLabel(b.cfg.big)+" uploads") || b.cfg.wants(sizeLabel(b.cfg.big)+" downloads") || b.cfg.wants("size/concurrency sweep")) {
		b.res.note("the single-stream transfers' clients (cat, curl, dd) ran pinned to CPU %d; the servers were free", b.pin)
	}

	for r := 1; r <= b.cfg.rounds; r++ {
		logf("round %d of %d (%s elapsed)", r, b.cfg.rounds, time.Since(b.start).Round(time.Second))
		b.round(r)
	}
	b.res.Meta = b.meta()
	b.report()
}

// makeTemp creates the temporary directory on the same file system as the
// output (the repository's disk), so every server writes to the disk the
// dd reference measures.
func (b *bench) makeTemp() {
	parent := b.cfg.tmpParent
	if parent == "" {
		parent = os.TempDir()
		var a, o syscall.Statfs_t
		if syscall.Statfs(parent, &a) != nil || syscall.Statfs(b.cfg.out, &o) != nil || a.Fsid != o.Fsid {
			parent = b.cfg.out
		}
	}
	dir, err := os.MkdirTemp(parent, "davnas-bench-")
	if err != nil {
		fatalf("%v", err)
	}
	b.tmp, _ = filepath.Abs(dir)
	atCleanup(func() { os.RemoveAll(b.tmp) })
	for _, d := range []string{"bin", "logs", "src", "roots", "nginx"} {
		os.MkdirAll(filepath.Join(b.tmp, d), 0o755)
	}
}

// src returns a file of n bytes of CSV-like text (lines of 40-120 bytes,
// so that wc has lines to count), created once.
func (b *bench) src(n int64) string {
	p := filepath.Join(b.tmp, "src", fmt.Sprintf("src-%d", n))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	block := make([]byte, 4*mib)
	r := rand.New(rand.NewPCG(1, 2))
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789,,,,"
	next := 40 + r.IntN(80)
	for i := range block {
		if next == 0 {
			block[i] = '\n'
			next = 40 + r.IntN(80)
			continue
		}
		block[i] = chars[r.IntN(len(chars))]
		next--
	}
	f, err := os.Create(p)
	if err != nil {
		fatalf("%v", err)
	}
	for left := n; left > 0; left -= int64(len(block)) {
		if _, err := f.Write(block[:min(left, int64(len(block)))]); err != nil {
			fatalf("%v", err)
		}
	}
	// End on a line end, so that wc -l and davnas's wc agree (davnas also
	// counts a last line without one).
	if _, err := f.WriteAt([]byte{'\n'}, n-1); err != nil {
		fatalf("%v", err)
	}
	if err := f.Close(); err != nil {
		fatalf("%v", err)
	}
	return p
}

// fixtures writes the sources and one root per server; read-only files are
// hard links of one copy, so every server reads the same cached pages.
func (b *bench) fixtures() {
	c := b.cfg
	sizes := append([]int64{c.big, c.concSize, 4 * kib}, c.sweep...)
	for _, n := range sizes {
		b.src(n)
	}
	master := filepath.Join(b.tmp, "src", "tree")
	for _, d := range []struct {
		name string
		n    int
	}{{"dir10k", c.nFiles}, {"dir10", 10}} {
		os.MkdirAll(filepath.Join(master, d.name), 0o755)
		for i := range d.n {
			line := fmt.Sprintf("file %d of %s\n", i, d.name)
			os.WriteFile(filepath.Join(master, d.name, fmt.Sprintf("f%05d.txt", i)), []byte(strings.Repeat(line, 4)), 0o644)
		}
	}
	b.servers = []*server{
		{name: "davnas", kind: "davnas"},
		{name: "davnas --fsync=false", kind: "davnas", extra: []string{"--fsync=false"}},
		{name: "x/net", kind: "xnet"},
	}
	if b.have["nginx"] {
		b.servers = append(b.servers, &server{name: "nginx", kind: "nginx"})
	}
	b.floor = &server{name: floorName + " (limit)", kind: "floor", root: filepath.Join(b.tmp, "roots", "floor")}
	for r := 1; r <= c.rounds; r++ {
		os.MkdirAll(filepath.Join(b.floor.root, "put4k", fmt.Sprintf("r%d", r)), 0o755)
	}
	for i, s := range b.servers {
		s.root = filepath.Join(b.tmp, "roots", fmt.Sprintf("%d-%s", i, s.kind))
		for _, d := range []string{"dir10k", "dir10"} {
			os.MkdirAll(filepath.Join(s.root, d), 0o755)
		}
		for r := 1; r <= c.rounds; r++ {
			os.MkdirAll(filepath.Join(s.root, "put4k", fmt.Sprintf("r%d", r)), 0o755)
			os.MkdirAll(filepath.Join(s.root, "mem", fmt.Sprintf("r%d", r)), 0o755)
		}
		link := func(src, dst string) {
			if err := os.Link(src, filepath.Join(s.root, dst)); err != nil {
				fatalf("fixtures: %v", err)
			}
		}
		link(b.src(c.big), "big.bin")
		link(b.src(4*kib), "small.bin")
		for _, n := range c.sweep {
			link(b.src(n), fmt.Sprintf("dl-%d.bin", n))
		}
		for _, d := range []string{"dir10k", "dir10"} {
			ents, _ := os.ReadDir(filepath.Join(master, d))
			for _, e := range ents {
				link(filepath.Join(master, d, e.Name()), filepath.Join(d, e.Name()))
			}
		}
	}
	syscall.Sync()
}

func (b *bench) meta() map[string]any {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	goVersion, _ := exec.Command("go", "env", "GOVERSION").Output()
	return map[string]any{
		"date":          b.start.UTC().Format(time.RFC3339),
		"duration_s":    time.Since(b.start).Seconds(),
		"quick":         b.cfg.quick,
		"rounds":        b.cfg.rounds,
		"big_bytes":     b.cfg.big,
		"conc_bytes":    b.cfg.concSize,
		"sweep_bytes":   b.cfg.sweep,
		"small_n":       b.cfg.smallN,
		"wrk_duration":  b.cfg.wrkDur.String(),
		"files":         b.cfg.nFiles,
		"kernel":        strings.TrimSpace(string(kernel)),
		"go":            strings.TrimSpace(string(goVersion)),
		"cpus":          runtime.NumCPU(),
		"tmp":           b.tmp,
		"warm_bytes":    b.warmBytes,
		"warm_system_s": b.warmSys.Seconds(),
		"client_cpu":    b.pin,
	}
}
