package storage

import (
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dirHandle is the directory an upload writes into, opened once when the
// upload starts: every later step names entries relative to it, one path
// element each, never walking a path again. A directory swapped for a
// symbolic link meanwhile therefore cannot redirect the write, and the
// upload costs one open of its directory (none for the root's, which the
// store keeps open).
//
// A directory opened for the upload is a bare descriptor, not an *os.File:
// nothing reads it, so the poller registration and finalizer an os.File
// brings would be spent for nothing (a 4 KiB PUT is about a dozen system
// calls; these were two of them).
type dirHandle struct {
	f   *os.File // the store's root, which the store keeps open; or nil
	fd  int      // otherwise, a descriptor opened for this upload
	own bool     // fd (or f) was opened for this upload: close it
}

// openDirHandle opens the directory dir (clean, inside the root).
func (s *Store) openDirHandle(dir string) (dirHandle, error) {
	root, err := s.rootFile()
	if dir == "." {
		return dirHandle{f: root}, err
	}
	if err == nil {
		if fd, err := openDirBeneath(root, dir); err != errNoOpenat2 {
			if err != nil {
				return dirHandle{}, err
			}
			return dirHandle{fd: fd, own: true}, nil
		}
	}
	f, err := s.openNB(dir, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return dirHandle{}, err
	}
	return dirHandle{f: f, own: true}, nil
}

func (d *dirHandle) close() {
	switch {
	case !d.own:
	case d.f != nil:
		d.f.Close()
	default:
		unix.Close(d.fd)
	}
	*d = dirHandle{}
}

// at runs fn with the directory's descriptor; fn's error is returned as
// it is (an Errno), for classify.
func (d dirHandle) at(fn func(dirfd int) error) error {
	if d.f == nil {
		if !d.own { // closed (or never opened): not descriptor 0
			return unix.EBADF
		}
		return fn(d.fd)
	}
	var ferr error
	if err := control(d.f, "", func(fd int) error { ferr = fn(fd); return nil }); err != nil {
		return err
	}
	return ferr
}

// lstat describes name without following a symbolic link.
func (d dirHandle) lstat(name string) (*statInfo, error) {
	info := &statInfo{name: name}
	if err := d.at(func(fd int) error { return fstatat(fd, name, &info.st) }); err != nil {
		return nil, err
	}
	return info, nil
}

// create makes the new file name, failing if anything (a symbolic link
// too) has that name.
func (d dirHandle) create(name string, perm fs.FileMode) (*os.File, error) {
	return d.open(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
}

// open opens name, never through a symbolic link (ELOOP).
func (d dirHandle) open(name string, flag int, perm fs.FileMode) (*os.File, error) {
	var nfd int
	err := d.at(func(fd int) error {
		for {
			var err error
			nfd, err = unix.Openat(fd, name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
			if err != unix.EINTR {
				return err
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(nfd), name), nil
}

func (d dirHandle) rename(from, to string) error {
	return d.at(func(fd int) error { return unix.Renameat(fd, from, fd, to) })
}

func (d dirHandle) remove(name string) error {
	return d.at(func(fd int) error { return unix.Unlinkat(fd, name, 0) })
}

// setTimes sets the access and modification times of name (not of a
// symbolic link's target).
func (d dirHandle) setTimes(name string, t time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	return d.at(func(fd int) error { return unix.UtimesNanoAt(fd, name, ts, unix.AT_SYMLINK_NOFOLLOW) })
}

func (d dirHandle) sync() error {
	if d.f != nil || !d.own {
		return d.f.Sync() // a nil f reports os.ErrInvalid
	}
	for {
		if err := unix.Fsync(d.fd); err != unix.EINTR {
			if err != nil {
				return &os.SyscallError{Syscall: "fsync", Err: err}
			}
			return nil
		}
	}
}
