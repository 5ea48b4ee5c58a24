package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A virtual machine may hand the guest's free memory back to its host and
// back it again only when the guest next touches it. This kind of machine
// does both: its kernel reports free memory to the host within seconds
// (free page reporting, /sys/module/page_reporting), and a page touched
// again costs a fault in the host, paid as system time by whoever
// allocates it. Measured here: 4 GiB of anonymous memory populated 5 s
// after the last one was freed took 6.9 s of system time, right after
// 0.96 s; a 1 GiB upload into fresh page cache ran at 300 MB/s and used
// 3.6 s of the server's CPU, 1500 MB/s and 0.6 s on held memory. Which
// sample pays depends on how long ago the kernel freed the pages it finds,
// not on the server under test (a server restarted before its sample, or
// the sample after a slow one, pays more), and the spread of the upload
// figures was 2x between rounds.
//
// So, like benchmark harnesses that fix the CPU's frequency, the bench
// pauses free page reporting while it runs and touches up to warmCap of
// free memory once before round 1, so that every sample allocates memory
// the guest holds. The pause writes a reporting order above the largest
// block to the kernel's own switch and writes the old value back at exit;
// this machine's kernel takes it, where a mainline kernel refuses orders
// above its largest (then nothing is paused, and nothing is touched
// either: touched pages would go back to the host within seconds).
// -warm=false measures without either.

// warmChunk is how much is mapped at a time; warmCap is more than the
// bench holds at once (its sources, one 1 GiB file and its temporary
// copy, 16 × 64 MiB), and warmMax bounds the time.
const (
	warmChunk = 256 * mib
	warmCap   = 12 * gib
	warmMax   = 2 * time.Minute
)

const reportingOrder = "/sys/module/page_reporting/parameters/page_reporting_order"

// warmMemory pauses free page reporting and touches free memory once.
func (b *bench) warmMemory() {
	if !b.pauseReporting() {
		return
	}
	room := min(warmRoom(readFile("/proc/meminfo"), cgroupRoom("/")), warmCap)
	if room < warmChunk {
		b.res.note("memory not pre-touched: too little free memory (%d MiB)", room/mib)
		return
	}
	logf("touching %.1f GiB of free memory once before measuring (-warm=false skips)", float64(room)/gib)
	var maps [][]byte
	defer func() {
		for _, m := range maps {
			syscall.Munmap(m)
		}
	}()
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	t := time.Now()
	var done int64
	for done+warmChunk <= room && time.Since(t) < warmMax && rootCtx.Err() == nil {
		// MAP_POPULATE does not fail when memory runs out (the OOM killer
		// would come instead): check what is left before each chunk.
		if warmRoom(readFile("/proc/meminfo"), -1) < warmChunk {
			break
		}
		m, err := syscall.Mmap(-1, 0, warmChunk, syscall.PROT_READ|syscall.PROT_WRITE,
			syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_POPULATE|syscall.MAP_NORESERVE)
		if err != nil {
			break
		}
		maps = append(maps, m)
		done += warmChunk
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	sys := time.Duration(after.Stime.Nano() - before.Stime.Nano())
	if done == 0 {
		b.res.note("memory not pre-touched: no chunk of %d MiB could be mapped", warmChunk/mib)
		return
	}
	gibs := float64(done) / gib
	b.warmBytes, b.warmSys = done, sys
	b.res.note("before round 1, %.1f GiB of free memory was touched once: %.1f s of system time, %.2f s a GiB (about 0.25 where the guest holds its memory; more is the host backing pages again)",
		gibs, sys.Seconds(), sys.Seconds()/gibs)
}

// pauseReporting turns free page reporting off until the bench exits and
// reports whether touching memory is worth it: reporting is off now, or
// the kernel has none.
func (b *bench) pauseReporting() bool {
	raw, err := os.ReadFile(reportingOrder)
	if err != nil {
		return true // no free page reporting here
	}
	old := strings.TrimSpace(string(raw))
	if n, err := strconv.Atoi(old); err != nil || n < 0 {
		return true // no reporting device has registered
	}
	if rootCtx.Err() != nil {
		return false
	}
	off := strconv.Itoa(pageOrders(readFile("/proc/buddyinfo")))
	// Registered before the write, so no exit path can miss it.
	atCleanup(func() {
		if err := os.WriteFile(reportingOrder, []byte(old), 0); err != nil {
			logf("could not restore %s to %s (%v): write it back by hand", reportingOrder, old, err)
		}
	})
	if err := os.WriteFile(reportingOrder, []byte(off), 0); err != nil {
		b.res.note("free page reporting left on (%s refused %s: %v), memory not pre-touched: samples may pay a host's faults for memory it took back", reportingOrder, off, err)
		return false
	}
	logf("free page reporting paused while the bench runs (%s: %s → %s; written back at exit)", reportingOrder, old, off)
	b.res.note("free page reporting was paused during the run (page_reporting_order %s → %s, written back at exit)", old, off)
	return true
}

// pageOrders is the number of block orders in /proc/buddyinfo (the largest
// order + 1): a reporting order no free block reaches.
func pageOrders(buddyinfo []byte) int {
	n := 0
	for line := range strings.Lines(string(buddyinfo)) {
		if f := strings.Fields(line); len(f) > 4 && f[0] == "Node" {
			n = max(n, len(f)-4) // Node 0, zone Normal c0 c1 ...
		}
	}
	if n == 0 {
		return 11 // x86-64's MAX_PAGE_ORDER + 1
	}
	return n
}

// warmRoom is how much memory to touch: MemFree from /proc/meminfo, or the
// room left in the memory cgroup if smaller (-1: no limit), less a margin
// of an eighth and at least 1 GiB, so that nothing else is pushed out.
func warmRoom(meminfo []byte, cgroup int64) int64 {
	free := int64(-1)
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemFree:" {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				free = kb * kib
			}
		}
	}
	if free < 0 {
		return 0
	}
	if cgroup >= 0 && cgroup < free {
		free = cgroup
	}
	room := free - max(free/8, gib)
	return max(room, 0) / warmChunk * warmChunk
}

// cgroupRoom is the memory this process's cgroups may still take, the
// least over its cgroup and every ancestor (v2: memory.max −
// memory.current; v1: memory.stat's hierarchical_memory_limit −
// memory.usage_in_bytes), or -1 when no limit is found. root is "/" but
// for tests. A cgroup path that does not resolve (a container without a
// cgroup namespace of its own) falls back to the mount's top.
func cgroupRoom(root string) int64 {
	num := func(p string) int64 {
		v, err := strconv.ParseInt(strings.TrimSpace(string(readFile(p))), 10, 64)
		if err != nil {
			return -1 // "max", or missing
		}
		return v
	}
	least := int64(-1)
	take := func(limit, usage int64) {
		if limit < 0 || usage < 0 || limit >= 1<<62 { // v1's "no limit" is near 2^63
			return
		}
		if r := max(limit-usage, 0); least < 0 || r < least {
			least = r
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(readFile(filepath.Join(root, "proc/self/cgroup"))))
	for sc.Scan() {
		// hierarchy-ID:controllers:path
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			mount := filepath.Join(root, "sys/fs/cgroup")
			d := filepath.Join(mount, f[2])
			if _, err := os.Stat(d); err != nil {
				d = mount
			}
			for ; strings.HasPrefix(d, mount); d = filepath.Dir(d) {
				take(num(filepath.Join(d, "memory.max")), num(filepath.Join(d, "memory.current")))
				if d == mount {
					break
				}
			}
		case strings.Contains(","+f[1]+",", ",memory,"):
			mount := filepath.Join(root, "sys/fs/cgroup/memory")
			d := filepath.Join(mount, f[2])
			if _, err := os.Stat(d); err != nil {
				d = mount
			}
			limit := int64(-1)
			ms := bufio.NewScanner(bytes.NewReader(readFile(filepath.Join(d, "memory.stat"))))
			for ms.Scan() {
				if v, ok := strings.CutPrefix(ms.Text(), "hierarchical_memory_limit "); ok {
					limit, _ = strconv.ParseInt(v, 10, 64)
				}
			}
			if limit < 0 {
				limit = num(filepath.Join(d, "memory.limit_in_bytes"))
			}
			take(limit, num(filepath.Join(d, "memory.usage_in_bytes")))
		}
	}
	return least
}

func readFile(p string) []byte {
	b, _ := os.ReadFile(p)
	return b
}
