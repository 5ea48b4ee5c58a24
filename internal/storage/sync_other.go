//go:build !linux

package storage

import (
	"os"
	"syscall"
)

func fdatasync(f *os.File) error { return f.Sync() }

func fdatasyncFd(fd int) error { return syscall.Fsync(fd) }
