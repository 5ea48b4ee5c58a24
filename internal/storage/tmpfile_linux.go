package storage

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Uploads to new files are written into an unnamed file (O_TMPFILE) in the
// target directory and given their name with one linkat(2) when they are
// complete. A create-then-rename costs two operations under the
// directory's lock; with eight clients creating files in one directory that
// lock is the bottleneck, and one link halves the work (4 KiB files, eight
// writers, ext4: 97k files/s against 50k). An interrupted upload leaves
// nothing behind, not even a name for the start-up sweep to remove: the
// kernel frees an unnamed file when its last descriptor closes, or at the
// next mount after a crash.
//
// linkat names the file by its descriptor (AT_EMPTY_PATH), which Linux
// allows an unprivileged process since 6.10 for files it opened itself;
// before that it needs CAP_DAC_READ_SEARCH, and the link goes through
// /proc/self/fd/N with AT_SYMLINK_FOLLOW instead (2-3 µs slower a file).
// Open probes the whole sequence once; a file system without O_TMPFILE
// (NFS, some FUSE) fails the open, and the upload takes a named temporary
// file instead.

// openTmpfile creates an unnamed file, readable and writable, in the
// directory dir.
func openTmpfile(dir dirHandle, perm fs.FileMode) (*os.File, error) {
	fd, err := openTmpfileFd(dir, perm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "."), nil
}

// openTmpfileFd is openTmpfile's bare descriptor: an upload makes it an
// *os.File only on the paths that need one (os.NewFile costs an fcntl).
func openTmpfileFd(dir dirHandle, perm fs.FileMode) (int, error) {
	var fd int
	err := dir.at(func(dfd int) error {
		var err error
		for {
			fd, err = unix.Openat(dfd, ".", unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, uint32(perm.Perm()))
			if err != unix.EINTR {
				return err
			}
		}
	})
	if err != nil {
		return -1, &os.SyscallError{Syscall: "open", Err: err}
	}
	return fd, nil
}

// linkTmpfile gives the unnamed file f the name name in dir; it fails with
// fs.ErrExist when the name is taken.
func linkTmpfile(f *os.File, dir dirHandle, name string) error {
	var lerr error
	if err := control(f, "link", func(fd int) error {
		lerr = linkTmpfileFd(fd, dir, name)
		return nil
	}); err != nil {
		return err
	}
	return lerr
}

// linkTmpfileFd is linkTmpfile for a bare descriptor.
func linkTmpfileFd(fd int, dir dirHandle, name string) error {
	if testHookLink != nil {
		if err := testHookLink(); err != nil {
			return err
		}
	}
	var lerr error
	err := dir.at(func(dfd int) error {
		if !noEmptyPathLink.Load() {
			lerr = unix.Linkat(fd, "", dfd, name, unix.AT_EMPTY_PATH)
			if lerr != unix.ENOENT && lerr != unix.EPERM {
				return nil
			}
		}
		// ENOENT: a kernel before 6.10 without the capability (or a
		// directory since removed, which /proc cannot link into either).
		lerr = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dfd, name, unix.AT_SYMLINK_FOLLOW)
		if lerr == nil {
			noEmptyPathLink.Store(true)
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case errors.Is(lerr, unix.EEXIST):
		return fs.ErrExist
	case lerr != nil:
		return &os.LinkError{Op: "link", Old: "(unnamed)", New: name, Err: lerr}
	}
	return nil
}

// testHookLink, when set by a test, can refuse a link (as a file system
// without linkat of unnamed files does).
var testHookLink func() error

// noEmptyPathLink is set once linkat(AT_EMPTY_PATH) has been refused.
var noEmptyPathLink atomic.Bool

// setFileTimes sets the access and modification times of the open file f:
// utimensat(fd, NULL, ...), which names the file by its descriptor alone
// (futimens(3); x/sys's Futimes goes through /proc, which a sandbox may
// lack while linkat by descriptor works).
func setFileTimes(f *os.File, t time.Time) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	return control(f, "utimensat", func(fd int) error {
		_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	})
}

// tmpfileWorks reports whether unnamed files can be created and linked in
// the directory dir: it links one under a reserved name and removes it.
func tmpfileWorks(dir dirHandle, root *os.Root) bool {
	f, err := openTmpfile(dir, 0o600)
	if err != nil {
		return false
	}
	defer f.Close()
	probe := tempPrefix + "probe-" + randomSuffix()
	if err := linkTmpfile(f, dir, probe); err != nil {
		return false
	}
	return root.Remove(probe) == nil
}

// setNoEmptyPathLink forces (or stops forcing) links through /proc, for
// tests of that path.
func setNoEmptyPathLink(v bool) { noEmptyPathLink.Store(v) }
