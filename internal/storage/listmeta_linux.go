package storage

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A listing that shows birth times or dead properties (PROPFIND allprop,
// Finder's creationdate, a named dead property) reads them for each member
// relative to the directory descriptor it already holds: statx(2) by name
// for the birth time, getxattrat(2) (Linux 6.13) for the properties' extended
// attribute and, when the member has none, a look in the set of sidecars
// that one pass over the directory's names found before the listing began
// (findSidecars), where each member without one used to cost an fstatat of
// its sidecar's name (a third of an allprop listing's system calls).
// Store.Birth and Store.Props open the member through a walk of its path
// instead (an openat per path element, a close each, and a walk more for
// the sidecar): 22 file-system calls a member against 4, and an allprop
// listing ten times slower than one of named properties.
//
// Whatever the fast path cannot settle (a member whose properties are in a
// sidecar or larger than its buffer, a kernel without getxattrat, a member
// removed meanwhile) it leaves unread, and the caller takes the slow path
// by name, which behaves as before.

// metaXattrBuf is the extended attribute buffer of a listing batch: ext4
// keeps extended attributes in one block, so larger sets are in sidecars.
const metaXattrBuf = 4096

// noXattrat is set once getxattrat(2) is missing (ENOSYS: a kernel before
// 6.13) or refused (EPERM: a seccomp filter that does not know it).
var noXattrat atomic.Bool

// propsXattrZ is propsXattr, NUL-terminated for the system call.
var propsXattrZ = []byte(propsXattr + "\x00")

// xattrArgs is the kernel's struct xattr_args.
type xattrArgs struct {
	value uint64 // the buffer's address
	size  uint32
	flags uint32
}

// sidecarSet is what findSidecars learnt of a directory: the members (by
// name) whose dead properties are in a sidecar.
type sidecarSet struct {
	known bool // false: not looked for, or too many to hold; stat each member's
	names map[string]struct{}
}

// maxSidecars bounds the names a listing holds. A directory on a file system
// without extended attributes may have a sidecar for every member; past
// this many the set is dropped (memory stays flat) and each member's
// sidecar is stat'ed instead.
var maxSidecars = 1024

// findSidecars reads the names of the directory fd once, through buf,
// collects the members whose sidecars it holds, and rewinds fd for the
// listing. A sidecar made after this pass (a PROPPATCH on a file system
// without extended attributes, racing the listing) is missed as if the
// listing had come first; one removed since sends its member to the slow
// path, which finds nothing. Only a failed rewind is an error: a failed
// pass leaves the set unknown.
func findSidecars(fd int, buf []byte) (sidecarSet, error) {
	set := sidecarSet{known: true}
	err := eachDirent(fd, buf, func(name []byte, _ uint8) error {
		member, ok := bytes.CutPrefix(name, sidecarPrefixBytes)
		if !ok {
			return nil
		}
		if len(set.names) >= maxSidecars {
			return errTooManySidecars
		}
		if set.names == nil {
			set.names = map[string]struct{}{}
		}
		set.names[string(member)] = struct{}{}
		return nil
	})
	if err != nil {
		set = sidecarSet{}
	}
	if _, err := unix.Seek(fd, 0, io.SeekStart); err != nil {
		return sidecarSet{}, err
	}
	return set, nil
}

var (
	sidecarPrefixBytes = []byte(sidecarPrefix)
	errTooManySidecars = errors.New("too many sidecars")
)

// memberMeta fills e's birth time and dead properties, as meta asks, for
// the member name (followed in memory by a NUL, as readNames returns it)
// of the directory dirfd. It never follows a symbolic link; the caller
// leaves those to the slow path. buf is the batch's extended attribute
// buffer; side is a scratch buffer for the sidecar's name, returned for
// reuse; sc is the directory's sidecars, when known.
func memberMeta(dirfd int, name string, meta ListMeta, e *Entry, buf, side []byte, sc *sidecarSet) []byte {
	if meta&MetaBirth != 0 {
		var stx unix.Statx_t
		if statxNUL(dirfd, name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_SYNC_AS_STAT, unix.STATX_BTIME, &stx) == nil {
			e.BirthRead = true
			if stx.Mask&unix.STATX_BTIME != 0 {
				e.Birth, e.HasBirth = time.Unix(stx.Btime.Sec, int64(stx.Btime.Nsec)), true
			}
		}
	}
	if meta&MetaProps == 0 || noXattrat.Load() {
		return side
	}
	n, err := getxattratNUL(dirfd, name, buf)
	switch {
	case err == nil:
		if p, derr := decodeProps(buf[:n]); derr == nil {
			if len(p) > 0 {
				e.Props = p
			}
			e.PropsRead = true
		}
		return side
	case err == unix.ENOSYS || err == unix.EPERM:
		noXattrat.Store(true)
		return side
	case err != unix.ENODATA && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EOPNOTSUPP):
		return side // ERANGE (a large set), ENOENT (removed): the slow path
	}
	// No extended attribute: the properties are in the sidecar, or there
	// are none.
	if sc.known {
		if _, ok := sc.names[name]; !ok {
			e.PropsRead = true
		}
		return side
	}
	side = append(append(append(side[:0], sidecarPrefix...), name...), 0)
	var st syscall.Stat_t
	s := unsafe.String(&side[0], len(side)-1)
	if err := fstatatNUL(dirfd, s, &st); err == unix.ENOENT {
		e.PropsRead = true
	}
	return side
}

// birthTime is a birth time statMember read with the stat.
type birthTime struct {
	t        time.Time
	ok, read bool // ok: the file system keeps one; read: it was asked
}

// statMember stats name (followed in memory by a NUL) in dirfd without
// following a symbolic link. With birth, where Stat_t is the kernel's
// struct stat (sysFstatat, 64-bit), it makes that one statx(2) with the
// birth time rather than an fstatat and a statx: a Finder listing's one
// system call per member.
func statMember(dirfd int, name string, st *syscall.Stat_t, birth bool, b *birthTime) error {
	if !birth || sysFstatat == 0 {
		return fstatatNUL(dirfd, name, st)
	}
	var stx unix.Statx_t
	if err := statxNUL(dirfd, name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_SYNC_AS_STAT,
		unix.STATX_BASIC_STATS|unix.STATX_BTIME, &stx); err != nil {
		return err
	}
	if stx.Mask&unix.STATX_BASIC_STATS != unix.STATX_BASIC_STATS {
		// A file system that leaves out part of the basics: the stat
		// itself, and the birth time by itself later.
		return fstatatNUL(dirfd, name, st)
	}
	statxToStat(&stx, st)
	b.read = true
	if stx.Mask&unix.STATX_BTIME != 0 {
		b.t, b.ok = time.Unix(stx.Btime.Sec, int64(stx.Btime.Nsec)), true
	}
	return nil
}

// statxToStat fills st as stat(2) would have from the same inode. The
// fields' types differ between architectures, hence setUint and setInt.
func statxToStat(stx *unix.Statx_t, st *syscall.Stat_t) {
	*st = syscall.Stat_t{}
	setUint(&st.Dev, unix.Mkdev(stx.Dev_major, stx.Dev_minor))
	setUint(&st.Ino, stx.Ino)
	setUint(&st.Nlink, uint64(stx.Nlink))
	setUint(&st.Mode, uint64(stx.Mode))
	setUint(&st.Uid, uint64(stx.Uid))
	setUint(&st.Gid, uint64(stx.Gid))
	setUint(&st.Rdev, unix.Mkdev(stx.Rdev_major, stx.Rdev_minor))
	setInt(&st.Size, int64(stx.Size))
	setInt(&st.Blksize, int64(stx.Blksize))
	setInt(&st.Blocks, int64(stx.Blocks))
	setInt(&st.Atim.Sec, stx.Atime.Sec)
	setInt(&st.Atim.Nsec, int64(stx.Atime.Nsec))
	setInt(&st.Mtim.Sec, stx.Mtime.Sec)
	setInt(&st.Mtim.Nsec, int64(stx.Mtime.Nsec))
	setInt(&st.Ctim.Sec, stx.Ctime.Sec)
	setInt(&st.Ctim.Nsec, int64(stx.Ctime.Nsec))
}

func setUint[T ~uint16 | ~uint32 | ~uint64](p *T, v uint64) { *p = T(v) }
func setInt[T ~int32 | ~int64](p *T, v int64)               { *p = T(v) }

// getxattratNUL reads the properties' extended attribute of name (followed
// in memory by a NUL) in dirfd into buf, without following a symbolic link.
func getxattratNUL(dirfd int, name string, buf []byte) (int, error) {
	args := xattrArgs{value: uint64(uintptr(unsafe.Pointer(&buf[0]))), size: uint32(len(buf))}
	var r uintptr
	err := retryErrno(func() syscall.Errno {
		var e syscall.Errno
		r, _, e = syscall.Syscall6(unix.SYS_GETXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(unsafe.StringData(name))),
			unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(&propsXattrZ[0])), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
		return e
	})
	runtime.KeepAlive(buf) // args holds its address as an integer
	if err != nil {
		return 0, err
	}
	return int(r), nil
}

// statxNUL is statx(2) for a name followed in memory by a NUL byte.
func statxNUL(dirfd int, name string, flags, mask int, stx *unix.Statx_t) error {
	return retryErrno(func() syscall.Errno {
		_, _, e := syscall.Syscall6(unix.SYS_STATX, uintptr(dirfd), uintptr(unsafe.Pointer(unsafe.StringData(name))),
			uintptr(flags), uintptr(mask), uintptr(unsafe.Pointer(stx)), 0)
		return e
	})
}

// Compile-time: xattrArgs is the kernel's 16 bytes.
var _ [16 - unsafe.Sizeof(xattrArgs{})]byte
