package storage

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// Sentinel errors. Every error returned by this package is an *fs.PathError
// whose Err is one of these (or, for an unexpected failure, the system error
// itself), so callers decide with errors.Is and os.IsNotExist/os.IsExist keep
// working for golang.org/x/net/webdav.
var (
	ErrNotFound    = fs.ErrNotExist
	ErrExists      = fs.ErrExist
	ErrPermission  = fs.ErrPermission
	ErrInvalidName = errors.New("invalid name")
	ErrReserved    = errors.New("name is reserved for the server")
	ErrOutsideRoot = errors.New("path escapes the storage root")
	ErrIsDir       = errors.New("is a directory")
	ErrNotDir      = errors.New("a parent is not a directory")
	ErrNotEmpty    = errors.New("directory not empty")
	ErrIsRoot      = errors.New("operation not allowed on the storage root")
	ErrNoSpace     = errors.New("no space left on the volume")
	ErrReadOnly    = errors.New("volume is read-only")
	ErrIncomplete  = errors.New("body ended before its announced length")
	ErrTooLarge    = errors.New("body larger than its announced length")
	ErrIntoItself  = errors.New("source and destination overlap")
	ErrNameTooLong = errors.New("name too long")
	ErrNotRegular  = errors.New("not a regular file")
	ErrBusy        = errors.New("file is held by another program")
	ErrControlChar = errors.New("name contains a control character")
)

// pathErr builds the error shape this package returns: the root-relative name
// and one of the sentinels.
func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// wrap translates an error from the os package or a reader into this
// package's shape. Callers pass the root-relative name so that no server path
// (the root's absolute location) ever leaves the package.
func wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return pathErr(op, name, classify(err))
}

// classify maps a system error onto a sentinel, or returns the innermost
// error unchanged when it is not one we give meaning to.
func classify(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ENOENT:
			return ErrNotFound
		case syscall.EEXIST:
			return ErrExists
		case syscall.EACCES, syscall.EPERM:
			return ErrPermission
		case syscall.EISDIR:
			return ErrIsDir
		case syscall.ENOTDIR:
			return ErrNotDir
		case syscall.ENOTEMPTY:
			return ErrNotEmpty
		case syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG:
			return ErrNoSpace
		case syscall.EROFS:
			return ErrReadOnly
		case syscall.ENAMETOOLONG:
			return ErrNameTooLong
		case syscall.EINVAL:
			return ErrInvalidName
		case syscall.ELOOP:
			return ErrOutsideRoot
		case syscall.EAGAIN:
			return ErrBusy // an open that a lease still held off when its time was up
		}
		return errno
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrIncomplete
	}
	if isRootEscape(err) {
		return ErrOutsideRoot
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var sentinels = []error{ErrChecksum, ErrNotFound, ErrExists, ErrPermission, ErrInvalidName,
	ErrReserved, ErrOutsideRoot, ErrIsDir, ErrNotDir, ErrNotEmpty, ErrIsRoot,
	ErrNoSpace, ErrReadOnly, ErrIncomplete, ErrTooLarge, ErrIntoItself, ErrNameTooLong,
	ErrNotRegular, ErrBusy, ErrControlChar}

// isRootEscape recognises os.Root's refusal of a name that would leave the
// root (through "..", an absolute symlink or a symlink pointing outside). The
// os package reports it with an unexported error value whose text is stable
// ("path escapes from parent"); it is the only non-errno failure the root's
// path operations produce, and a test pins the text.
func isRootEscape(err error) bool {
	var inner error
	var pe *fs.PathError
	var le *os.LinkError // Root.Rename reports with a LinkError
	switch {
	case errors.As(err, &pe):
		inner = pe.Err
	case errors.As(err, &le):
		inner = le.Err
	default:
		return false
	}
	var errno syscall.Errno
	if errors.As(inner, &errno) {
		return false
	}
	return strings.Contains(inner.Error(), "escapes")
}
