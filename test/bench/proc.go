package main

// Processes: the cleanup stack, starting and stopping servers by PID,
// running short commands in their own process group, and reading memory and
// CPU from /proc.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The cleanup stack: every server, the temporary directory and the root
// context register here; runCleanups runs them last-in first-out, once,
// from the normal exit, a panic, a fatal error or SIGINT/SIGTERM/SIGHUP.
var (
	cleanupMu   sync.Mutex
	cleanupRun  sync.Mutex // held while the stack runs, so a second caller waits
	cleanupFns  []func()
	cleanupDone bool // the stack has run: what registers now runs at once
)

func atCleanup(f func()) {
	cleanupMu.Lock()
	if cleanupDone {
		cleanupMu.Unlock()
		f()
		return
	}
	defer cleanupMu.Unlock()
	cleanupFns = append(cleanupFns, f)
}

func runCleanups() {
	cleanupRun.Lock()
	defer cleanupRun.Unlock()
	cleanupMu.Lock()
	fns := cleanupFns
	cleanupFns, cleanupDone = nil, true
	cleanupMu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// fatalf reports, cleans up and exits 1 (log.Fatal would skip the stack).
func fatalf(format string, args ...any) {
	quietAfterInterrupt()
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	runCleanups()
	os.Exit(1)
}

// quietAfterInterrupt parks the calling goroutine once an interrupt has
// cancelled rootCtx: the signal handler is cleaning up and will exit, and
// the errors of the commands it killed are not worth reporting.
func quietAfterInterrupt() {
	if rootCtx.Err() != nil {
		select {}
	}
}

// goSafe runs f in a goroutine; a panic there still cleans up.
func goSafe(f func()) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				runCleanups()
				panic(r)
			}
		}()
		f()
	}()
}

// proc is a long-running process (a server) started by startProc.
type proc struct {
	name     string
	cmd      *exec.Cmd
	done     chan struct{}
	err      error
	stopOnce sync.Once
}

// startProc starts bin in its own process group with stdout and stderr to
// logPath, and registers its stop on the cleanup stack.
func startProc(name, logPath, bin string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	atCleanup(p.stop)
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the PID and waits; after 5 s it sends SIGKILL to the
// process group whose id is that PID (the process is not reaped yet, so the
// id is still ours). Safe to call more than once.
func (p *proc) stop() {
	p.stopOnce.Do(func() {
		if !p.alive() {
			return
		}
		pid := p.pid()
		syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
	})
}

// rootCtx is cancelled first by the cleanup stack: short commands started
// with run die with it (their whole process group is killed).
var rootCtx, cancelRoot = context.WithCancel(context.Background())

// run runs a short command (a curl pipeline, dd, wc) in its own process
// group, bounded to 10 minutes, and returns its combined output.
func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(rootCtx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), err
}

// sh runs a shell script with positional arguments ($1, $2, ...).
func sh(script string, args ...string) (string, error) {
	return run("sh", append([]string{"-c", script, "sh"}, args...)...)
}

// --- /proc ---

// procTree is pid and all its descendants (nginx: master and workers).
func procTree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		for _, t := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], t.Name()))
			for _, f := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(f); err == nil {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// statusBytes reads a kB field of /proc/PID/status (VmRSS, VmHWM) in bytes.
func statusBytes(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuSeconds is the CPU time pid has used, in seconds. utime+stime of
// /proc/PID/stat count every thread, the exited ones too, but in clock ticks
// (USER_HZ = 100): a 1 GiB download at 3 GB/s costs about 15 of them, so a
// tick is 7% of the figure. The first field of each live thread's
// /proc/PID/task/TID/schedstat is its time on a CPU in nanoseconds; their sum
// is the same total to the nanosecond, unless a thread has exited. The larger
// of the two is the precise figure when no thread has exited, and the tick
// count (to a tick) when one has.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return max(float64(u+k)/100, schedSeconds(pid))
}

// schedSeconds sums the on-CPU nanoseconds of pid's live threads, or returns
// 0 where schedstat is missing.
func schedSeconds(pid int) float64 {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // exited since the listing
		}
		first, _, _ := strings.Cut(string(b), " ")
		v, _ := strconv.ParseInt(first, 10, 64)
		ns += v
	}
	return float64(ns) / 1e9
}

// rss is the VmRSS of the process and its descendants, in bytes.
func (p *proc) rss() int64 {
	var n int64
	for _, pid := range procTree(p.pid()) {
		n += statusBytes(pid, "VmRSS")
	}
	return n
}

func (p *proc) cpu() float64 {
	var s float64
	for _, pid := range procTree(p.pid()) {
		s += cpuSeconds(pid)
	}
	return s
}

// meter watches a server during one workload: VmRSS of its process tree
// sampled every 20 ms, and CPU seconds between start and end.
type meter struct {
	p      *proc
	single bool
	hwm0   int64
	cpu0   float64
	max    int64
	stopc  chan struct{}
	donec  chan struct{}
}

func (p *proc) meter() *meter {
	m := &meter{p: p, stopc: make(chan struct{}), donec: make(chan struct{})}
	m.single = len(procTree(p.pid())) == 1
	m.hwm0 = statusBytes(p.pid(), "VmHWM")
	m.cpu0 = p.cpu()
	m.max = p.rss()
	goSafe(func() {
		defer close(m.donec)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.stopc:
				return
			case <-t.C:
				m.max = max(m.max, p.rss())
			}
		}
	})
	return m
}

// end returns the peak RSS in bytes and the CPU seconds used. For a single
// process the kernel's VmHWM refines the sampled peak: if it rose during the
// workload, the new high-water mark is this workload's exact peak.
func (m *meter) end() (peak int64, cpu float64) {
	close(m.stopc)
	<-m.donec
	peak = max(m.max, m.p.rss())
	if m.single {
		if hwm := statusBytes(m.p.pid(), "VmHWM"); hwm > m.hwm0 {
			peak = max(peak, hwm)
		}
	}
	return peak, m.p.cpu() - m.cpu0
}

// client runs the shell pipeline of a single-stream transfer (the 1 GiB
// uploads and downloads, their sweep sizes, the limits measured beside
// them and the concurrency sweep's one upload) pinned to one CPU, b.pin,
// when there is one: see pin.go.
func (b *bench) client(script string, args ...string) (string, error) {
	if b.pin < 0 {
		return sh(script, args...)
	}
	return run("taskset", append([]string{"-c", strconv.Itoa(b.pin), "sh", "-c", script, "sh"}, args...)...)
}
