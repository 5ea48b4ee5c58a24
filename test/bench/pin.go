package main

import (
	"os/exec"

	"golang.org/x/sys/unix"
)

// On two CPUs over loopback, where the scheduler puts the client decides a
// single-stream transfer's rate more than the server does. The kernel
// wakes the reader on the CPU of the writer that woke it, so a server
// whose reading thread lands on curl's CPU takes the body in small reads,
// each a wake-up, while the other CPU idles: measured by hand on davnas
// --fsync=false, 1 GiB from cat | curl, eight samples alternated between
// two modes, 820–1270 MB/s with 13,000–30,000 context switches in the
// server and 2180 MB/s with 5,400; the server pinned to CPU 0 and curl to
// CPU 1, 2020–2190 MB/s (4,900–7,300 switches); both on CPU 0, 930–980
// (20,000–24,000). Every Go server's upload figures were bimodal in the
// 16:55 run (davnas PUT /dav 889–2010 MB/s, x/net 820–1643), which made
// the ratio between two of them a coin toss.
//
// So the bench does what load generators do: the client pipelines of the
// single-stream workloads (cat, curl, dd; the concurrency sweep's one
// upload too) run pinned to the last CPU the bench may use, and the
// servers stay free to use every CPU; with cat and curl pinned to CPU 1
// and davnas free, six samples ran at 1970–2290 MB/s.
// The workloads with many clients (16 uploads at once, wrk, the Go
// clients of the small requests) are not pinned: one CPU would bound the
// client. -pin=false measures without.

// pinCPU is the CPU the single-stream clients are pinned to, or -1 when
// pinning is off, taskset is missing or the bench may use only one CPU.
func pinCPU(want bool) int {
	if !want {
		return -1
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return -1
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() < 2 {
		return -1
	}
	last := -1
	for c := range 1024 {
		if set.IsSet(c) {
			last = c
		}
	}
	return last
}
