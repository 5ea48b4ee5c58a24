package storage

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
)

// CopyOptions tunes Copy.
type CopyOptions struct {
	// Overwrite replaces an existing destination of any kind.
	Overwrite bool
	// Shallow copies a directory without its members (WebDAV Depth: 0).
	Shallow bool
}

// maxCopyDepth bounds the recursion of a directory copy.
const maxCopyDepth = 256

// Copy copies from (a file, or a directory with everything in it) to to,
// and reports whether an existing destination was replaced. The copy is
// built under a hidden name next to the destination and renamed into place
// only when complete, so a failed or interrupted copy leaves the
// destination as it was. Copying a directory into itself, or over one of
// its own ancestors, is refused (ErrIntoItself). The parent of to must
// exist. File contents are copied by the kernel (copy_file_range).
func (s *Store) Copy(ctx context.Context, from, to string, opt CopyOptions) (replaced bool, err error) {
	src, err := resolve("copy", from)
	if err != nil {
		return false, err
	}
	dst, err := resolveNew("copy", to)
	if err != nil {
		return false, err
	}
	if dst == "." {
		return false, pathErr("copy", dst, ErrIsRoot)
	}
	if src == dst || src == "." || strings.HasPrefix(dst, src+"/") || strings.HasPrefix(src, dst+"/") {
		return false, pathErr("copy", dst, ErrIntoItself)
	}
	sfi, err := s.root.Stat(src)
	if err != nil {
		return false, wrap("copy", src, err)
	}
	if !sfi.Mode().IsRegular() && !sfi.IsDir() {
		return false, pathErr("copy", src, ErrNotRegular) // as in a directory's copy, where they are skipped
	}
	if sfi.IsDir() {
		if err := s.notAncestor(src, sfi, parent(dst)); err != nil {
			return false, err
		}
	}
	dfi, err := s.root.Lstat(dst)
	exists := err == nil
	if exists && !opt.Overwrite {
		return false, pathErr("copy", dst, ErrExists)
	}
	if err := s.CheckFree(sfi.Size()); err != nil {
		return false, pathErr("copy", dst, err)
	}
	pfi, err := s.root.Stat(parent(dst))
	if err != nil {
		return false, wrap("copy", parent(dst), err)
	}
	if !pfi.IsDir() {
		return false, pathErr("copy", dst, ErrNotDir)
	}

	tmp := joinName(parent(dst), tempPrefix+randomSuffix())
	var holder *os.File // holds the flock that tells a sweep this is live
	if sfi.IsDir() {
		if err := s.root.Mkdir(tmp, sfi.Mode().Perm()); err != nil {
			return false, wrap("copy", dst, err)
		}
		holder, err = s.openNB(tmp, os.O_RDONLY, 0)
		if err == nil {
			err = lockFile(holder, false)
		}
		if err == nil && !opt.Shallow {
			err = s.copyDir(ctx, src, tmp, 0)
		}
	} else {
		holder, err = s.copyFile(ctx, src, tmp, sfi)
	}
	defer func() {
		if holder != nil {
			holder.Close()
		}
		if err != nil {
			s.root.RemoveAll(tmp)
		}
	}()
	if err != nil {
		return false, wrap("copy", dst, err)
	}
	if s.fsync && sfi.IsDir() {
		if err := holder.Sync(); err != nil {
			return false, wrap("copy", dst, err)
		}
	}
	if err = s.copyProps(src, tmp); err != nil {
		return false, wrap("copy", dst, err)
	}
	if exists && (dfi.IsDir() || sfi.IsDir()) {
		// The aside dance of replace, with the finished copy as source.
		if err = s.replace(tmp, dst); err != nil {
			return false, err
		}
		s.moveSidecar(tmp, dst)
		return true, nil
	}
	if err = s.root.Rename(tmp, dst); err != nil {
		return false, wrap("copy", dst, err)
	}
	s.moveSidecar(tmp, dst)
	return exists, s.syncDir(parent(dst))
}

// notAncestor refuses a copy of the directory src (its stat, sfi, through
// any symbolic link) into dir when src is dir or one of its ancestors, as
// the name checks do for plain names: a link inside the root can name the
// root or an ancestor of the destination (or the destination's path can
// pass through a link into src), and the copy would copy into itself.
// Identities are compared along dir's path, each element resolved.
func (s *Store) notAncestor(src string, sfi fs.FileInfo, dir string) error {
	id := fileID(sfi)
	for d := dir; ; d = parent(d) {
		if fi, err := s.root.Stat(d); err == nil && fileID(fi) == id {
			if d == "." {
				return pathErr("copy", src, ErrIsRoot)
			}
			return pathErr("copy", src, ErrIntoItself)
		}
		if d == "." {
			return nil
		}
	}
}

// copyFile copies the file src to the new name dst and returns it open
// (and flocked).
func (s *Store) copyFile(ctx context.Context, src, dst string, sfi fs.FileInfo) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, err := s.openNB(src, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	if ifi, err := in.Stat(); err != nil || !ifi.Mode().IsRegular() {
		// Swapped for a FIFO since Copy's stat: reading one could wait forever.
		return nil, pathErr("copy", src, ErrNotRegular)
	}
	out, err := s.openNB(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, sfi.Mode().Perm())
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		out.Close()
		return nil, err
	}
	if err := lockFile(out, false); err != nil {
		return fail(err)
	}
	out.Chmod(sfi.Mode().Perm())
	if _, err := out.ReadFrom(in); err != nil { // copy_file_range when possible
		return fail(err)
	}
	if s.fsync {
		if err := fdatasync(out); err != nil {
			return fail(err)
		}
	}
	return out, nil
}

// copyDir copies the members of directory src into the existing directory
// dst. Symbolic links are copied as links (never followed, so a link to an
// ancestor cannot make the copy endless); temporary files are skipped.
func (s *Store) copyDir(ctx context.Context, src, dst string, depth int) error {
	if depth > maxCopyDepth {
		return ErrNameTooLong
	}
	return s.ReadDirRaw(ctx, src, func(de fs.DirEntry) error {
		from, to := joinName(src, de.Name()), joinName(dst, de.Name())
		info, err := de.Info()
		if err != nil {
			return nil // removed while we copied
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := s.root.Readlink(from)
			if err != nil {
				return err
			}
			return s.root.Symlink(target, to)
		case info.IsDir():
			if err := s.root.Mkdir(to, info.Mode().Perm()); err != nil {
				return err
			}
			if err := s.copyDir(ctx, from, to, depth+1); err != nil {
				return err
			}
			if err := s.copyProps(from, to); err != nil {
				return err
			}
			if s.fsync {
				return s.syncDir(to)
			}
			return nil
		case info.Mode().IsRegular():
			f, err := s.copyFile(ctx, from, to, info)
			if err != nil {
				return err
			}
			f.Close()
			return s.copyProps(from, to)
		}
		return nil // devices, sockets, pipes: not ours to copy
	})
}

// ReadDirRaw calls fn for every entry of the directory name as the file
// system reports it (symbolic links not followed), skipping temporary
// files, one batch in memory at a time.
func (s *Store) ReadDirRaw(ctx context.Context, name string, fn func(fs.DirEntry) error) error {
	d, err := s.openNB(name, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := d.ReadDir(readDirBatch)
		for _, de := range batch {
			if IsReserved(de.Name()) {
				continue
			}
			if err := fn(de); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(batch) == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
