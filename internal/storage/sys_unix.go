//go:build unix

package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// fileKey identifies a file independently of its names.
type fileKey struct{ dev, ino uint64 }

func fileID(fi fs.FileInfo) fileKey {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}
	}
	return fileKey{}
}

// inode returns the inode number of fi, or 0 when unknown.
func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

// lockFile takes an exclusive flock(2) on f. With wait false it fails with
// EWOULDBLOCK instead of waiting.
func lockFile(f *os.File, wait bool) error {
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	return control(f, "flock", func(fd int) error {
		for {
			err := syscall.Flock(fd, how)
			if err != syscall.EINTR {
				return err
			}
		}
	})
}

// lockFileCtx takes an exclusive flock(2) on f, waiting for another
// process's lock by polling, so the wait ends when ctx does (a blocking
// flock would pin an OS thread until the other process let go).
func lockFileCtx(ctx context.Context, f *os.File) error {
	delay := time.Millisecond
	for {
		err := lockFile(f, false)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// control runs fn on f's descriptor without switching it to blocking mode
// (which f.Fd() would do).
func control(f *os.File, op string, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	if ferr != nil {
		return &os.SyscallError{Syscall: op, Err: ferr}
	}
	return nil
}
