package storage

import (
	"errors"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// openDirBeneath opens the directory name (clean, relative) below root in
// one openat2(2) with RESOLVE_BENEATH: the kernel refuses any step of the
// resolution that would leave root (a "..", an absolute symbolic link, a
// link pointing outside), which is the confinement os.Root gets by walking
// the path itself, one openat per element and a close for each. Symbolic
// links that stay below root are followed, as os.Root follows them;
// /proc-style magic links are not.
//
// It returns errNoOpenat2 when the caller should take the os.Root path
// instead: a kernel before 5.6, a seccomp filter that refuses the call
// (older container runtimes answer EPERM), or EAGAIN, which the kernel
// returns when a rename elsewhere raced the resolution of "..".
func openDirBeneath(root *os.File, name string) (int, error) {
	fd, err := openat2Beneath(root, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	var errno unix.Errno
	if errors.As(err, &errno) {
		switch errno {
		case unix.EAGAIN:
			return -1, errNoOpenat2
		case unix.EXDEV:
			return -1, pathErr("open", name, ErrOutsideRoot)
		}
		return -1, pathErr("open", name, errno)
	}
	if err != nil {
		return -1, err
	}
	return fd, nil
}

// openFileBeneath opens the file name (clean, relative) below root for
// reading in one openat2(2) with RESOLVE_BENEATH, as openDirBeneath opens
// an upload's directory, instead of os.Root's walk (an openat and a close
// per directory of the path). The descriptor becomes an *os.File the
// cheapest way: opened non-blocking (a FIFO must not hang the open), set
// back to blocking, so that os.NewFile leaves it out of the poller (a
// regular file cannot be polled: os.Root's open tries, and epoll_ctl
// refuses).
//
// It returns errNoOpenat2 for anything but a plain success: the caller
// then opens through os.Root, whose answers (errors, lease waits) are the
// contract, and which TestOpenResolution holds this path to.
func openFileBeneath(root *os.File, name string) (*os.File, error) {
	fd, err := openat2Beneath(root, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		return nil, errNoOpenat2
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, 0); err != nil {
		unix.Close(fd)
		return nil, errNoOpenat2
	}
	return os.NewFile(uintptr(fd), name), nil
}

// openat2Beneath is openat2(2) of name below root with RESOLVE_BENEATH and
// without magic links. It returns errNoOpenat2 when the call itself is not
// available (a kernel before 5.6, or a seccomp filter that refuses it:
// older container runtimes answer EPERM), and remembers that; otherwise
// the call's errno.
func openat2Beneath(root *os.File, name string, flags uint64) (int, error) {
	if noOpenat2.Load() {
		return -1, errNoOpenat2
	}
	how := unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
	fd := -1
	err := control(root, "openat2", func(rootfd int) error {
		for {
			var err error
			fd, err = unix.Openat2(rootfd, name, &how)
			if err != unix.EINTR {
				return err
			}
		}
	})
	if err == unix.ENOSYS || err == unix.EPERM {
		// Not this kernel's or this sandbox's call: never again.
		noOpenat2.Store(true)
		return -1, errNoOpenat2
	}
	return fd, err
}

// noOpenat2 is set once openat2 has been refused as a system call.
var noOpenat2 atomic.Bool

var errNoOpenat2 = errors.New("openat2 unavailable")

// setNoOpenat2 forces (or stops forcing) directory opens through os.Root,
// for tests of that path.
func setNoOpenat2(v bool) { noOpenat2.Store(v) }
