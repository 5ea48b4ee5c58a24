package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/davnas/davnas/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestWarmRoom(t *testing.T) {
	meminfo := []byte("MemTotal:       24683620 kB\nMemFree:        20816968 kB\nMemAvailable:   20803272 kB\n")
	free := int64(20816968) * kib
	for _, c := range []struct {
		name   string
		cgroup int64
		want   int64
	}{
		// An eighth of MemFree kept, rounded down to whole chunks.
		{"no cgroup limit", -1, (free - free/8) / warmChunk * warmChunk},
		// The cgroup's room, less at least 1 GiB.
		{"cgroup limit", 3 * gib, 2 * gib},
		{"cgroup nearly full", gib + mib, 0},
	} {
		if got := warmRoom(meminfo, c.cgroup); got != c.want {
			t.Errorf("%s: warmRoom = %d MiB, want %d MiB", c.name, got/mib, c.want/mib)
		}
	}
	if got := warmRoom([]byte("garbage\n"), -1); got != 0 {
		t.Errorf("warmRoom without MemFree = %d, want 0", got)
	}
}

func TestPageOrders(t *testing.T) {
	buddy := []byte(`Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 
Node 0, zone    DMA32      6      4      3      4      4      4      2      6      6      3    749 
Node 0, zone   Normal   5069   1194   1098   1487   2921   2944   1735   1287    512    231   3857 
`)
	if got := pageOrders(buddy); got != 11 {
		t.Errorf("pageOrders = %d, want 11", got)
	}
	if got := pageOrders(nil); got != 11 {
		t.Errorf("pageOrders(nil) = %d, want the x86-64 default 11", got)
	}
}

func TestPinCPU(t *testing.T) {
	if got := pinCPU(false); got != -1 {
		t.Errorf("pinCPU(false) = %d, want -1", got)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	got := pinCPU(true)
	if set.Count() < 2 {
		if got != -1 {
			t.Errorf("one CPU: pinCPU(true) = %d, want -1", got)
		}
		return
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		testutil.Missing(t, "taskset")
	}
	if got < 0 || !set.IsSet(got) {
		t.Fatalf("pinCPU(true) = %d, not a CPU this process may use", got)
	}
	for c := got + 1; c < 1024; c++ {
		if set.IsSet(c) {
			t.Errorf("pinCPU(true) = %d, but CPU %d is later", got, c)
		}
	}
	// The pinned client really runs there.
	b := &bench{pin: got}
	out, err := b.client(`taskset -cp $$`)
	if err != nil || !strings.HasSuffix(strings.TrimSpace(out), ": "+strconv.Itoa(got)) {
		t.Errorf("client's affinity: %q, %v; want CPU %d", out, err, got)
	}
}

// cgroupRoom on fake /proc and /sys trees: the least room over a cgroup
// and its ancestors, v1 and v2, and the fallback for a path that does not
// resolve (a container without its own cgroup namespace).
func TestCgroupRoom(t *testing.T) {
	write := func(root, p, data string) {
		t.Helper()
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"v2, the parent's limit is the least", map[string]string{
			"proc/self/cgroup":                     "0::/pod/app\n",
			"sys/fs/cgroup/pod/app/memory.max":     "max\n",
			"sys/fs/cgroup/pod/app/memory.current": "1000\n",
			"sys/fs/cgroup/pod/memory.max":         "5000\n",
			"sys/fs/cgroup/pod/memory.current":     "3000\n",
			"sys/fs/cgroup/memory.current":         "9000\n", // the root has no memory.max
		}, 2000},
		{"v2, own limit", map[string]string{
			"proc/self/cgroup":                 "0::/app\n",
			"sys/fs/cgroup/app/memory.max":     "4096\n",
			"sys/fs/cgroup/app/memory.current": "1024\n",
		}, 3072},
		{"v2, no limit anywhere", map[string]string{
			"proc/self/cgroup":                 "0::/app\n",
			"sys/fs/cgroup/app/memory.max":     "max\n",
			"sys/fs/cgroup/app/memory.current": "1024\n",
		}, -1},
		{"v2, path from the host's namespace", map[string]string{
			"proc/self/cgroup":             "0::/kubepods/burstable/pod1/ctr\n",
			"sys/fs/cgroup/memory.max":     "8192\n",
			"sys/fs/cgroup/memory.current": "2048\n",
		}, 6144},
		{"v1, hierarchical limit", map[string]string{
			"proc/self/cgroup": "4:memory:/pod/app\n1:cpu:/\n",
			"sys/fs/cgroup/memory/pod/app/memory.limit_in_bytes": "9223372036854771712\n",
			"sys/fs/cgroup/memory/pod/app/memory.usage_in_bytes": "1000\n",
			"sys/fs/cgroup/memory/pod/app/memory.stat":           "cache 0\nhierarchical_memory_limit 6000\n",
		}, 5000},
		{"v1, no limit", map[string]string{
			"proc/self/cgroup": "4:memory:/app\n",
			"sys/fs/cgroup/memory/app/memory.limit_in_bytes": "9223372036854771712\n",
			"sys/fs/cgroup/memory/app/memory.usage_in_bytes": "1000\n",
			"sys/fs/cgroup/memory/app/memory.stat":           "hierarchical_memory_limit 9223372036854771712\n",
		}, -1},
		{"nothing readable", map[string]string{}, -1},
	} {
		root := t.TempDir()
		for p, data := range c.files {
			write(root, p, data)
		}
		if got := cgroupRoom(root); got != c.want {
			t.Errorf("%s: cgroupRoom = %d, want %d", c.name, got, c.want)
		}
	}
}
