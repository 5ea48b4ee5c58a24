package dav

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"golang.org/x/net/webdav"

	"github.com/davnas/davnas/internal/storage"
)

// fileSystem adapts storage.Store to webdav.FileSystem. It adds no path
// handling of its own: every name goes through the store, which cleans and
// confines it.
type fileSystem struct {
	store *storage.Store
}

var _ webdav.FileSystem = fileSystem{}

func (fsys fileSystem) Mkdir(ctx context.Context, name string, perm os.FileMode) error {
	return fsys.store.Mkdir(name, perm)
}

// OpenFile opens name for x/net/webdav. The library opens files for writing
// in two places, COPY's destination and LOCK of an unmapped URL, and both
// replace the whole file: they get an atomic file, committed on Close.
// PROPPATCH opens with O_RDWR only to reach dead properties and writes
// nothing, so that is opened read-only (a directory cannot be opened for
// writing at all, golang/go#43929).
func (fsys fileSystem) OpenFile(ctx context.Context, name string, flag int, perm os.FileMode) (webdav.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 && flag&(os.O_TRUNC|os.O_CREATE) != 0 {
		a, err := fsys.store.NewAtomicFile(name, storage.CreateOptions{ExpectedSize: -1})
		if err != nil {
			return nil, err
		}
		return &writeFile{a: a}, nil
	}
	f, fi, err := fsys.store.Open(name)
	if err != nil {
		return nil, err
	}
	return &readFile{File: f, info: fileInfo{fi}}, nil
}

func (fsys fileSystem) RemoveAll(ctx context.Context, name string) error {
	return fsys.store.Remove(ctx, name)
}

// Rename is called by MOVE after the library removed an existing
// destination (Overwrite: T), so it never overwrites.
func (fsys fileSystem) Rename(ctx context.Context, oldName, newName string) error {
	_, err := fsys.store.Move(ctx, oldName, newName, storage.MoveOptions{})
	return err
}

func (fsys fileSystem) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	fi, err := fsys.store.Stat(name)
	if err != nil {
		return nil, err
	}
	return fileInfo{fi}, nil
}

// fileInfo gives PROPFIND the same ETag and Content-Type every other path
// serves, from the stat already in hand: x/net/webdav would otherwise open
// and sniff every file of a listing (golang/go#22577).
type fileInfo struct{ os.FileInfo }

func (fi fileInfo) ETag(context.Context) (string, error) { return storage.ETag(fi.FileInfo), nil }

func (fi fileInfo) ContentType(context.Context) (string, error) {
	if fi.IsDir() {
		return "", webdav.ErrNotImplemented
	}
	return storage.ContentType(fi.Name()), nil
}

// readFile is a file or directory opened for reading. Directory listings
// hide the server's temporary files.
type readFile struct {
	*os.File
	info fileInfo
}

func (f *readFile) Stat() (os.FileInfo, error) { return f.info, nil }

func (f *readFile) Write([]byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: f.info.Name(), Err: fs.ErrPermission}
}

func (f *readFile) Readdir(count int) ([]os.FileInfo, error) {
	var out []os.FileInfo
	for {
		batch, err := f.File.Readdir(count)
		for _, fi := range batch {
			if !storage.IsReserved(fi.Name()) {
				out = append(out, fi)
			}
		}
		// With count > 0 the caller expects up to count entries or io.EOF;
		// read again only if filtering emptied a non-final batch.
		if count <= 0 || len(out) > 0 || err != nil {
			if count <= 0 && errors.Is(err, io.EOF) {
				err = nil
			}
			return out, err
		}
	}
}

// writeFile is the webdav.File face of an atomic write.
type writeFile struct {
	a *storage.AtomicFile
}

func (f *writeFile) Write(p []byte) (int, error)         { return f.a.Write(p) }
func (f *writeFile) ReadFrom(r io.Reader) (int64, error) { return f.a.ReadFrom(r) }
func (f *writeFile) Read([]byte) (int, error)            { return 0, f.denied("read") }
func (f *writeFile) Seek(int64, int) (int64, error)      { return 0, f.denied("seek") }
func (f *writeFile) Readdir(int) ([]os.FileInfo, error)  { return nil, f.denied("readdir") }
func (f *writeFile) Stat() (os.FileInfo, error)          { return pendingInfo{f.a}, nil }
func (f *writeFile) denied(op string) error {
	return &fs.PathError{Op: op, Path: f.a.Name(), Err: fs.ErrInvalid}
}

// Close commits the file: the library calls it after a successful copy and
// after a failed one, but a failed write is sticky and Commit then discards.
func (f *writeFile) Close() error {
	_, err := f.a.Commit()
	return err
}

// pendingInfo describes an atomic file not yet committed.
type pendingInfo struct{ a *storage.AtomicFile }

func (p pendingInfo) Name() string       { return p.a.Name() }
func (p pendingInfo) Size() int64        { return p.a.Size() }
func (p pendingInfo) Mode() os.FileMode  { return 0o644 }
func (p pendingInfo) ModTime() time.Time { return time.Now() }
func (p pendingInfo) IsDir() bool        { return false }
func (p pendingInfo) Sys() any           { return nil }
