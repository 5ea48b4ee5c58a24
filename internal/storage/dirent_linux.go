package storage

import (
	"bytes"
	"encoding/binary"
	"syscall"
)

// direntBufSize is the getdents64 buffer of one directory being swept:
// about 200 entries a call.
const direntBufSize = 8 << 10

// eachDirent reads the directory fd with getdents64 into buf and calls fn
// with every entry's name and d_type (syscall.DT_*), "." and ".." left out.
// The name aliases buf: fn must copy what it keeps. Nothing is allocated
// per entry, which matters to a sweep over millions of files.
func eachDirent(fd int, buf []byte, fn func(name []byte, typ uint8) error) error {
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
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
			if string(name) == "." || string(name) == ".." {
				continue
			}
			if err := fn(name, typ); err != nil {
				return err
			}
		}
	}
}
