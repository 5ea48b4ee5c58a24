package storage

import (
	"bytes"
	"encoding/binary"
	"sync"
	"syscall"
	"unsafe"
)

// direntBufSize is the getdents64 buffer of one directory being swept or
// listed: about 200 entries a call.
const direntBufSize = 8 << 10

// direntBufs are getdents buffers: one per directory being listed, and one
// per directory level being swept.
var direntBufs = sync.Pool{New: func() any { b := make([]byte, direntBufSize); return &b }}

// eachDirent reads the directory fd with getdents64 into buf and calls fn
// with every entry's name and d_type (syscall.DT_*), "." and ".." left out.
// The name aliases buf: fn must copy what it keeps. Nothing is allocated
// per entry, which matters to a sweep over millions of files.
func eachDirent(fd int, buf []byte, fn func(name []byte, typ uint8) error) error {
	for {
		n, err := readDirent(fd, buf)
		if err != nil || n == 0 {
			return err
		}
		if err := parseDirents(buf[:n], fn); err != nil {
			return err
		}
	}
}

// readNames reads names from the directory fd with getdents64 (through
// buf) until at least max were read or the directory ended (eof). The names
// share one allocation, and each is followed in memory by a NUL byte, so
// fstatatNUL hands them to the kernel as they are: a listing allocates
// nothing per entry for its names.
func readNames(fd int, buf []byte, max int) (names []string, eof bool, err error) {
	var arena []byte
	var ends []int // the end of each name's NUL in arena
	for len(ends) < max {
		n, rerr := readDirent(fd, buf)
		if rerr != nil {
			err = rerr
			break
		}
		if n == 0 {
			eof = true
			break
		}
		if arena == nil {
			arena = make([]byte, 0, 2*n)
		}
		err = parseDirents(buf[:n], func(name []byte, _ uint8) error {
			arena = append(append(arena, name...), 0)
			ends = append(ends, len(arena))
			return nil
		})
		if err != nil {
			break
		}
	}
	if len(ends) == 0 {
		return nil, eof, err
	}
	// arena is never written again: the strings can alias it.
	all := unsafe.String(unsafe.SliceData(arena), len(arena))
	names = make([]string, len(ends))
	start := 0
	for i, end := range ends {
		names[i] = all[start : end-1]
		start = end
	}
	return names, eof, err
}

// readDirent is one getdents64 call: 0 at the end of the directory.
func readDirent(fd int, buf []byte) (int, error) {
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}

// parseDirents calls fn for each record of one getdents64 result.
func parseDirents(buf []byte, fn func(name []byte, typ uint8) error) error {
	n := len(buf)
	for off := 0; off+19 <= n; {
		// struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16,
		// d_type u8, d_name (NUL-terminated).
		reclen := int(binary.NativeEndian.Uint16(buf[off+16 : off+18]))
		if reclen < 19 || off+reclen > n {
			return syscall.EIO // a malformed record: stop rather than misread
		}
		typ := buf[off+18]
		name := buf[off+19 : off+reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		off += reclen
		if len(name) == 0 || string(name) == "." || string(name) == ".." {
			continue
		}
		if err := fn(name, typ); err != nil {
			return err
		}
	}
	return nil
}
