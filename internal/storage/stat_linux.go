package storage

import (
	"io/fs"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// statInfo is an fs.FileInfo from one fstatat(2), as os.Lstat would build
// it (Sys is the *syscall.Stat_t).
type statInfo struct {
	name string
	st   syscall.Stat_t
}

func (i *statInfo) Name() string       { return i.name }
func (i *statInfo) Size() int64        { return i.st.Size }
func (i *statInfo) ModTime() time.Time { return time.Unix(int64(i.st.Mtim.Sec), int64(i.st.Mtim.Nsec)) }
func (i *statInfo) IsDir() bool        { return i.Mode().IsDir() }
func (i *statInfo) Sys() any           { return &i.st }

// Mode converts st_mode the way the os package does.
func (i *statInfo) Mode() fs.FileMode {
	m := fs.FileMode(i.st.Mode & 0o777)
	switch i.st.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if i.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if i.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if i.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// fstatat stats name in the directory dirfd without following a final
// symbolic link, into the syscall package's Stat_t (what os.FileInfo.Sys
// holds, and what fileID reads).
func fstatat(dirfd int, name string, st *syscall.Stat_t) error {
	for {
		// x/sys/unix and syscall generate Stat_t from the same kernel
		// struct on every Linux architecture; the sizes are checked below.
		err := unix.Fstatat(dirfd, name, (*unix.Stat_t)(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINTR {
			return err
		}
	}
}

// fstatatNUL is fstatat for a name followed in memory by a NUL byte (the
// names readNames returns): the kernel reads it where it is, where
// fstatat would copy it into a new NUL-terminated buffer first.
func fstatatNUL(dirfd int, name string, st *syscall.Stat_t) error {
	if sysFstatat == 0 || name == "" {
		return fstatat(dirfd, name, st)
	}
	return retryErrno(func() syscall.Errno {
		_, _, e := syscall.Syscall6(sysFstatat, uintptr(dirfd), uintptr(unsafe.Pointer(unsafe.StringData(name))),
			uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
		return e
	})
}

// retryErrno calls f, which makes one raw system call and returns its
// errno (0 on success), until the call is not interrupted (EINTR). The
// pointers stay Go pointers until f converts them in the syscall.Syscall6
// call itself, as the unsafe.Pointer rules require.
func retryErrno(f func() syscall.Errno) error {
	for {
		switch e := f(); e {
		case 0:
			return nil
		case syscall.EINTR:
		default:
			return e
		}
	}
}

// Compile-time: the two Stat_t types have one size.
var (
	_ [unsafe.Sizeof(unix.Stat_t{}) - unsafe.Sizeof(syscall.Stat_t{})]byte
	_ [unsafe.Sizeof(syscall.Stat_t{}) - unsafe.Sizeof(unix.Stat_t{})]byte
)
