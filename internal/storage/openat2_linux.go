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
	if noOpenat2.Load() {
		return -1, errNoOpenat2
	}
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
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
	var errno unix.Errno
	if errors.As(err, &errno) {
		switch errno {
		case unix.ENOSYS, unix.EPERM:
			// Not this kernel's or this sandbox's call: never again.
			noOpenat2.Store(true)
			return -1, errNoOpenat2
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

// noOpenat2 is set once openat2 has been refused as a system call.
var noOpenat2 atomic.Bool

var errNoOpenat2 = errors.New("openat2 unavailable")

// setNoOpenat2 forces (or stops forcing) directory opens through os.Root,
// for tests of that path.
func setNoOpenat2(v bool) { noOpenat2.Store(v) }
