package storage

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data and the metadata needed to read it back (its
// size), which is all an upload needs; fsync would also write back times.
func fdatasync(f *os.File) error {
	return control(f, "fdatasync", fdatasyncFd)
}

// fdatasyncFd is fdatasync for a bare descriptor.
func fdatasyncFd(fd int) error {
	for {
		err := syscall.Fdatasync(fd)
		if err != syscall.EINTR {
			return err
		}
	}
}
