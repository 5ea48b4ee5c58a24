package storage

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// CreateOptions tunes Create and NewAtomicFile.
type CreateOptions struct {
	// MakeParents creates missing parent directories (the /file/ API does;
	// WebDAV answers 409 Conflict instead, RFC 4918 §9.7.1).
	MakeParents bool
	// ExpectedSize, when not negative, is the size the body announced
	// (X-Expected-Entity-Length); a body of any other size is discarded.
	ExpectedSize int64
	// ModTime, when not zero, becomes the file's modification time
	// (X-OC-Mtime, rclone's modtime preservation).
	ModTime time.Time
	// Check, when set, is called with the target's current FileInfo (nil
	// when it does not exist) just before the rename, under a lock that no
	// other commit of the same name can pass: a precondition (If-Match,
	// If-None-Match) checked there cannot be overtaken by a concurrent
	// upload. An error aborts the upload and is returned.
	Check func(current fs.FileInfo) error
	// Verify, when set, receives the checksums of the body (computed while
	// it streams in) before anything is committed; an error discards the
	// upload (OC-Checksum). The checksums are cached with the file.
	Verify func(Sums) error
}

// CreateResult describes a committed file.
type CreateResult struct {
	Info    fs.FileInfo
	Size    int64
	Created bool // false when an existing file was replaced
	Sums    Sums // set when CreateOptions.Verify asked for them
}

// Create writes src to name atomically: the bytes go to a hidden temporary
// file in the target directory, which is renamed over name only once src has
// ended without error (and, with fsync on, been synced). A failed or
// interrupted upload leaves the previous content, or no file, and no
// temporary file. It is the one upload path, used by POST /file/ and by
// WebDAV PUT alike.
func (s *Store) Create(ctx context.Context, name string, src io.Reader, opt CreateOptions) (CreateResult, error) {
	a, err := s.NewAtomicFile(name, opt)
	if err != nil {
		return CreateResult{}, err
	}
	return a.Finish(ctx, src)
}

// Finish copies src into the file and commits it (or aborts on error).
func (a *AtomicFile) Finish(ctx context.Context, src io.Reader) (CreateResult, error) {
	if _, err := a.ReadFrom(src); err != nil {
		a.Abort()
		return CreateResult{}, err
	}
	if err := ctx.Err(); err != nil {
		a.Abort()
		return CreateResult{}, pathErr("create", a.name, err)
	}
	return a.Commit()
}

// AtomicFile is a file being written under a hidden temporary name. Commit
// renames it over its target; Abort removes it. Write errors are sticky: a
// file that failed a write can only be aborted.
type AtomicFile struct {
	s       *Store
	f       *os.File // the file, once it is an *os.File (see fd)
	fd      int      // an unnamed file's bare descriptor until file() makes it f; -1 otherwise
	fdClean runtime.Cleanup
	dir     dirHandle // the target's directory, held for the write's life
	name    string    // target, cleaned
	base    string    // target's base name, in dir
	tmp     string    // temporary file's base name, in dir, while it has one
	unnamed bool      // f is an unnamed file (O_TMPFILE), linked at commit
	opt     CreateOptions
	n       int64
	failed  error
	existed fs.FileInfo // the target when the write began, if any
	hash    *hasher     // set when the body's checksums are wanted
}

// NewAtomicFile starts an atomic write of name. The temporary file is
// created next to the target (a rename never crosses file systems) and holds
// an exclusive flock while it lives, so a start-up sweep of another process
// never removes an upload in progress.
func (s *Store) NewAtomicFile(name string, opt CreateOptions) (*AtomicFile, error) {
	clean, err := resolveNew("create", name)
	if err != nil {
		return nil, err
	}
	if clean == "." {
		return nil, pathErr("create", clean, ErrIsDir)
	}
	dir := parent(clean)
	if opt.MakeParents {
		if err := s.mkdirAll(dir); err != nil {
			return nil, err
		}
	}
	// Everything from here on happens relative to a handle on the target
	// directory, taken now: if the directory's path is swapped meanwhile (a
	// symbolic link put in its place), the temporary file is still created,
	// renamed and removed in the directory the upload started in, never
	// through the link, and never left behind. It also spares every later
	// step a walk of the path.
	d, err := s.openDirHandle(dir)
	if err != nil {
		return nil, wrap("create", clean, err)
	}
	a := &AtomicFile{s: s, dir: d, fd: -1, name: clean, base: baseName(clean), opt: opt}
	perm := fs.FileMode(0o666)
	existed, err := a.statTarget()
	switch {
	case err == nil && existed.IsDir():
		a.closeDir()
		return nil, pathErr("create", clean, ErrIsDir)
	case err == nil && !existed.Mode().IsRegular():
		// Another program's FIFO, socket or device: not davnas's to
		// replace (and its mode is not a file's).
		a.closeDir()
		return nil, pathErr("create", clean, ErrNotRegular)
	case err == nil:
		perm = existed.Mode().Perm()
		a.existed = existed
	default:
		if c := classify(err); c != ErrNotFound {
			a.closeDir()
			return nil, pathErr("create", clean, c)
		}
	}
	if opt.Verify != nil {
		a.hash = newHasher()
	}
	if s.sh.tmpfile {
		// A bare descriptor: a small upload writes, stats and links it
		// without ever needing an *os.File (whose os.NewFile costs an
		// fcntl, one of a small PUT's eight system calls). The cleanup
		// closes it should the upload be dropped without Abort.
		if fd, err := openTmpfileFd(d, perm); err == nil {
			if a.existed != nil {
				unix.Fchmod(fd, uint32(perm)) // as for a named temporary file, past the umask
			}
			a.fd, a.unnamed = fd, true
			a.fdClean = runtime.AddCleanup(a, closeFd, fd)
			return a, nil
		}
		// This directory's file system has no unnamed files (a mount
		// inside the root): a named temporary file does the same job.
	}
	a.tmp = tempPrefix + randomSuffix()
	f, err := d.create(a.tmp, perm)
	if err != nil {
		a.tmp = ""
		a.closeDir()
		return nil, wrap("create", clean, err)
	}
	if a.existed != nil {
		// OpenFile's perm is filtered by the umask; a replaced file keeps
		// exactly the mode it had.
		f.Chmod(perm)
	}
	if err := lockFile(f, false); err != nil {
		f.Close()
		d.remove(a.tmp)
		a.tmp = ""
		a.closeDir()
		return nil, wrap("create", clean, err)
	}
	a.f = f
	return a, nil
}

// statTarget is what the target's name holds, following a symbolic link
// that stays inside the root (as os.Root.Stat does).
func (a *AtomicFile) statTarget() (fs.FileInfo, error) {
	info, err := a.dir.lstat(a.base)
	if err != nil {
		return nil, err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return a.s.root.Stat(a.name)
	}
	return info, nil
}

// Name is the cleaned target name.
func (a *AtomicFile) Name() string { return a.name }

// Existing is the target's FileInfo when the write began, or nil: for
// preconditions evaluated before the body is read.
func (a *AtomicFile) Existing() fs.FileInfo { return a.existed }

// Write appends p to the temporary file.
func (a *AtomicFile) Write(p []byte) (int, error) {
	if a.failed != nil {
		return 0, a.failed
	}
	var n int
	var err error
	if a.fd >= 0 {
		n, err = writeFd(a.fd, p)
	} else {
		n, err = a.f.Write(p)
	}
	a.n += int64(n)
	if a.hash != nil {
		a.hash.Write(p[:n])
	}
	if err != nil {
		a.failed = wrap("write", a.name, err)
		return n, a.failed
	}
	return n, nil
}

// ReadFrom copies src into the temporary file through a pooled buffer.
func (a *AtomicFile) ReadFrom(src io.Reader) (int64, error) {
	if a.failed != nil {
		return 0, a.failed
	}
	if a.n == 0 {
		if err := a.s.CheckFree(a.opt.ExpectedSize); err != nil {
			a.failed = pathErr("write", a.name, err)
			return 0, a.failed
		}
	}
	var file io.Writer
	switch {
	case a.s.fsync:
		// A second ReadFrom waits first for the last chunk's worth of
		// what the first wrote, as that one would have.
		file = &writebackWriter{f: a.f, fd: a.fd, written: a.n, prev: max(a.n-writebackChunk, 0), started: a.n}
	case a.fd >= 0:
		file = fdWriter(a.fd)
	default:
		file = fileWriter{a.f}
	}
	dst := a.s.guard(file)
	if a.hash != nil {
		dst = io.MultiWriter(dst, a.hash)
	}
	n, err := copyBuffer(dst, src)
	a.n += n
	if err != nil {
		a.failed = wrap("write", a.name, err)
		return n, a.failed
	}
	if a.opt.ExpectedSize >= 0 && a.n > a.opt.ExpectedSize {
		a.failed = pathErr("write", a.name, ErrTooLarge)
		return n, a.failed
	}
	return n, nil
}

// Size is the number of bytes written so far.
func (a *AtomicFile) Size() int64 { return a.n }

// Commit makes the written bytes the content of the target.
func (a *AtomicFile) Commit() (CreateResult, error) {
	if a.failed != nil {
		a.Abort()
		return CreateResult{}, a.failed
	}
	if a.opt.ExpectedSize >= 0 && a.n != a.opt.ExpectedSize {
		a.Abort()
		if a.n < a.opt.ExpectedSize {
			return CreateResult{}, pathErr("create", a.name, ErrIncomplete)
		}
		return CreateResult{}, pathErr("create", a.name, ErrTooLarge)
	}
	var sums Sums
	if a.hash != nil {
		sums = a.hash.sums()
		if err := a.opt.Verify(sums); err != nil {
			a.Abort()
			return CreateResult{}, err
		}
	}
	if a.existed != nil {
		// Dead properties belong to the resource: keep them across a replace.
		old, err := a.dir.open(a.base, os.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			// A symbolic link: its target's, inside the root.
			old, err = a.s.openNB(a.name, os.O_RDONLY, 0)
		}
		if err == nil {
			copyXattrs(old, a.file())
			old.Close()
		}
	}
	if a.s.fsync {
		if err := a.sync(); err != nil {
			a.Abort()
			return CreateResult{}, wrap("sync", a.name, err)
		}
	}
	if !a.opt.ModTime.IsZero() {
		var err error
		if a.unnamed {
			err = setFileTimes(a.file(), a.opt.ModTime)
		} else {
			err = a.dir.setTimes(a.tmp, a.opt.ModTime)
		}
		if err != nil {
			a.Abort()
			return CreateResult{}, wrap("chtimes", a.name, err)
		}
	}
	fi, err := a.stat()
	if err != nil {
		a.Abort()
		return CreateResult{}, wrap("create", a.name, err)
	}
	if a.hash != nil && !storeSums(a.file(), sumsKey(fi), sums) {
		a.s.sh.sums.put(sumsKey(fi), sums)
	}
	unlock, _ := a.s.sh.commits.lock(context.Background(), a.s.volumeName(a.name))
	defer unlock()
	var cur fs.FileInfo
	if a.opt.Check != nil || !a.unnamed {
		// What the name holds now: for the precondition, and for a named
		// file to know whether it creates or replaces. An unnamed file
		// without a precondition learns that from linkat.
		if now, err := a.statTarget(); err == nil {
			cur = now
		}
	}
	if a.opt.Check != nil {
		if err := a.opt.Check(cur); err != nil {
			a.Abort()
			return CreateResult{}, err
		}
	}
	created := cur == nil
	if a.unnamed && cur == nil {
		// A new name: one link, which fails rather than replace anything
		// that appeared since the Stat (a dangling symbolic link, or a
		// file made by another process or by a MOVE).
		if testHookBeforeLink != nil {
			testHookBeforeLink()
		}
		err := a.link(a.base)
		switch {
		case err == nil:
			return a.committed(fi, sums, true)
		case errors.Is(err, fs.ErrExist):
			created = false
			// What appeared is judged as if it had been there at the
			// Stat: If-None-Match: * must refuse it, not replace it.
			if a.opt.Check != nil {
				now, serr := a.statTarget()
				if serr != nil {
					now = nil
				}
				if err := a.opt.Check(now); err != nil {
					a.Abort()
					return CreateResult{}, err
				}
			}
		default:
			// The file system will not link it: the file becomes a named
			// one, committed below as any named upload is.
			named, cerr := a.nameByCopy(sums)
			if cerr != nil {
				a.Abort()
				return CreateResult{}, wrap("create", a.name, err)
			}
			fi = named
		}
	}
	if a.unnamed {
		// Replacing: the file gets a temporary name, flocked like any
		// upload's so that a sweep never takes it, and is renamed over
		// the target like a named temporary file.
		if err := lockFile(a.file(), false); err != nil {
			a.Abort()
			return CreateResult{}, wrap("create", a.name, err)
		}
		tmp := tempPrefix + randomSuffix()
		if err := a.link(tmp); err != nil {
			named, cerr := a.nameByCopy(sums)
			if cerr != nil {
				a.Abort()
				return CreateResult{}, wrap("create", a.name, err)
			}
			fi = named
		} else {
			a.tmp = tmp
		}
	} else if cur == nil {
		if _, err := a.dir.lstat(a.base); err == nil {
			created = false // a dangling symbolic link (or a name taken meanwhile) is replaced, not created
		}
	}
	if err := a.dir.rename(a.tmp, a.base); err != nil {
		a.Abort()
		return CreateResult{}, wrap("create", a.name, err)
	}
	a.tmp = ""
	return a.committed(fi, sums, created)
}

// testHookBeforeLink, when set by a test, runs just before an unnamed
// upload is linked to a new name.
var testHookBeforeLink func()

// nameByCopy is the way out when the file system holding the target
// directory makes unnamed files but will not link them (a mount inside the
// root, some FUSE or network file systems): the bytes are copied
// (copy_file_range) into a named, flocked temporary file with the same
// mode, properties and times, which then takes the named upload's path. It
// returns the new file's FileInfo.
func (a *AtomicFile) nameByCopy(sums Sums) (fs.FileInfo, error) {
	old, err := a.file().Stat()
	if err != nil {
		return nil, err
	}
	tmp := tempPrefix + randomSuffix()
	g, err := a.dir.create(tmp, 0o600)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (fs.FileInfo, error) {
		g.Close()
		a.dir.remove(tmp)
		return nil, err
	}
	if err := lockFile(g, false); err != nil {
		return fail(err)
	}
	if _, err := a.f.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	if _, err := io.Copy(g, a.f); err != nil {
		return fail(err)
	}
	copyXattrs(a.f, g)
	if err := g.Chmod(old.Mode().Perm()); err != nil {
		return fail(err)
	}
	if a.s.fsync {
		if err := fdatasync(g); err != nil {
			return fail(err)
		}
	}
	if !a.opt.ModTime.IsZero() {
		if err := setFileTimes(g, a.opt.ModTime); err != nil {
			return fail(err)
		}
	}
	fi, err := g.Stat()
	if err != nil {
		return fail(err)
	}
	if a.hash != nil && !storeSums(g, sumsKey(fi), sums) {
		a.s.sh.sums.put(sumsKey(fi), sums)
	}
	a.f.Close()
	a.f, a.tmp, a.unnamed = g, tmp, false
	return fi, nil
}

// committed finishes a commit once the file has its name.
func (a *AtomicFile) committed(fi fs.FileInfo, sums Sums, created bool) (CreateResult, error) {
	// Closing releases the flock only after the rename: the file is never
	// both unlocked and under its temporary name.
	a.closeFile()
	defer a.closeDir()
	if a.s.fsync {
		if err := a.dir.sync(); err != nil {
			return CreateResult{}, wrap("sync", parent(a.name), err)
		}
	}
	return CreateResult{Info: renamed{fi, a.name}, Size: a.n, Created: created, Sums: sums}, nil
}

// Abort discards the temporary file. It is safe to call more than once and
// after Commit.
func (a *AtomicFile) Abort() {
	if a.f == nil && a.fd < 0 {
		return
	}
	a.closeFile()
	if a.tmp != "" {
		a.dir.remove(a.tmp)
		a.tmp = ""
	}
	a.closeDir()
}

func (a *AtomicFile) closeDir() { a.dir.close() }

// file is the upload's *os.File, made from the bare descriptor on first
// use (the paths that lock, sync, copy properties or rename the file).
func (a *AtomicFile) file() *os.File {
	if a.f == nil && a.fd >= 0 {
		a.fdClean.Stop()
		a.f, a.fd = os.NewFile(uintptr(a.fd), "."), -1
	}
	return a.f
}

// closeFile closes the upload's file, however it is held.
func (a *AtomicFile) closeFile() {
	switch {
	case a.f != nil:
		a.f.Close()
		a.f = nil
	case a.fd >= 0:
		a.fdClean.Stop()
		unix.Close(a.fd)
		a.fd = -1
	}
}

// stat is the upload's FileInfo, by fstat(2) on the bare descriptor when
// there is one.
func (a *AtomicFile) stat() (fs.FileInfo, error) {
	if a.fd < 0 {
		return a.f.Stat()
	}
	info := &statInfo{name: a.base}
	for {
		err := unix.Fstat(a.fd, (*unix.Stat_t)(unsafe.Pointer(&info.st)))
		switch err {
		case nil:
			return info, nil
		case unix.EINTR:
			continue
		}
		return nil, &os.PathError{Op: "stat", Path: a.name, Err: err}
	}
}

// sync is fdatasync of the upload's file.
func (a *AtomicFile) sync() error {
	if a.fd < 0 {
		return fdatasync(a.f)
	}
	if err := fdatasyncFd(a.fd); err != nil {
		return &os.SyscallError{Syscall: "fdatasync", Err: err}
	}
	return nil
}

// link names the unnamed file name in its directory.
func (a *AtomicFile) link(name string) error {
	if a.fd >= 0 {
		return linkTmpfileFd(a.fd, a.dir, name)
	}
	return linkTmpfile(a.f, a.dir, name)
}

// closeFd closes an upload's bare descriptor that was dropped without
// Abort (a cleanup, see NewAtomicFile).
func closeFd(fd int) { unix.Close(fd) }

// fdWriter writes to a bare descriptor of a regular file.
type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) { return writeFd(int(w), p) }

// writeFd writes all of p to fd, as os.File.Write does.
func writeFd(fd int, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if m > 0 {
			n += m
		}
		if err != nil {
			return n, &os.PathError{Op: "write", Path: ".", Err: err}
		}
		if m == 0 {
			return n, &os.PathError{Op: "write", Path: ".", Err: io.ErrShortWrite}
		}
	}
	return n, nil
}

// renamed reports a committed temporary file's FileInfo under its final
// base name.
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return baseName(r.name) }

// fileWriter hides *os.File's ReadFrom so io.CopyBuffer uses our pooled
// buffer instead of os.File's generic 32 KiB fallback.
type fileWriter struct{ f *os.File }

func (w fileWriter) Write(p []byte) (int, error) { return w.f.Write(p) }
