package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Options configures a Store.
type Options struct {
	// Fsync makes every write durable before it is acknowledged: a file's
	// data is synced before it is renamed into place or an append reports
	// success, and the directory entry is synced after the rename.
	Fsync bool
	// MinFree refuses (ErrNoSpace) writes that would leave less free space
	// than this many bytes on the volume.
	MinFree int64
	// ReadOnly opens a root that may be on a read-only volume: it is not
	// required to be writable and no append journal is replayed.
	ReadOnly bool
	// NoUnnamedFiles makes every upload use a named temporary file, as on a
	// file system without O_TMPFILE (for tests of that path).
	NoUnnamedFiles bool
}

// Store is a directory served to clients. All methods are safe for
// concurrent use. A Store made by Sub serves a sub-directory (a user's own
// root) and shares its parent's locks, journal and caches.
type Store struct {
	root   *os.Root
	fsync  bool
	prefix string // this root within the volume's ("" for the volume)
	sh     *shared

	// rootf is the root directory as a file, for the uploads into it;
	// opened on first use (again after a failure, EMFILE say).
	rootfMu sync.Mutex
	rootf   *os.File
}

// rootFile returns the root directory as an open file.
func (s *Store) rootFile() (*os.File, error) {
	s.rootfMu.Lock()
	defer s.rootfMu.Unlock()
	if s.rootf == nil {
		f, err := s.openNB(".", os.O_RDONLY, 0)
		if err != nil {
			return nil, err
		}
		s.rootf = f
	}
	return s.rootf, nil
}

// shared is the state every Store of one volume shares.
type shared struct {
	top     *os.Root           // the volume's root, for the journal
	appends lockTable[fileKey] // appends, by file identity
	commits lockTable[string]  // precondition checks + renames, by volume name
	sums    memSums            // checksum cache where xattrs are unavailable
	journal journal            // in-flight appends, for crash recovery
	minFree int64
	tmpfile bool // uploads can use unnamed files (probed at Open)

	appendCount, appendedBytes atomic.Uint64 // committed, for metrics
}

// AppendStats reports the appends committed since start and their bytes.
func (s *Store) AppendStats() (count, bytes uint64) {
	return s.sh.appendCount.Load(), s.sh.appendedBytes.Load()
}

// volumeName is a root-relative name as the volume's root sees it.
func (s *Store) volumeName(clean string) string {
	if s.prefix == "" {
		return clean
	}
	if clean == "." {
		return s.prefix
	}
	return s.prefix + "/" + clean
}

// Sub returns a Store rooted at the directory dir of s, creating it if
// missing. It is confined by its own os.Root: nothing outside dir can be
// reached through it, whatever the name.
func (s *Store) Sub(dir string) (*Store, error) {
	clean, err := resolve("sub", dir)
	if err != nil {
		return nil, err
	}
	if clean == "." {
		return s, nil
	}
	if err := s.mkdirAll(clean); err != nil {
		return nil, err
	}
	r, err := s.root.OpenRoot(clean)
	if err != nil {
		return nil, wrap("sub", clean, err)
	}
	return &Store{root: r, fsync: s.fsync, prefix: s.volumeName(clean), sh: s.sh}, nil
}

// Open opens (creating it if missing) the directory dir as a Store and checks
// that it is a writable directory. The errors name dir: they are meant for
// the operator starting the server, never for a client.
func Open(dir string, opt Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("storage root is empty")
	}
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create storage root %s: %w", dir, innermost(err))
		}
		fi, err = os.Stat(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot use storage root %s: %w", dir, innermost(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("storage root %s is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot open storage root %s: %w", dir, innermost(err))
	}
	s := &Store{root: root, fsync: opt.Fsync, sh: &shared{top: root, minFree: opt.MinFree}}
	s.sh.journal.s = s
	if opt.ReadOnly {
		if !s.Readable() {
			root.Close()
			return nil, fmt.Errorf("storage root %s is not readable", dir)
		}
		return s, nil
	}
	if err := s.Ready(); err != nil {
		root.Close()
		return nil, fmt.Errorf("storage root %s is not writable: %w", dir, innermost(err))
	}
	if err := s.sh.journal.recover(); err != nil {
		root.Close()
		return nil, fmt.Errorf("storage root %s: recovering interrupted appends: %w", dir, err)
	}
	if f, err := s.rootFile(); err == nil {
		s.sh.tmpfile = !opt.NoUnnamedFiles && tmpfileWorks(dirHandle{f: f}, root)
	}
	return s, nil
}

// innermost strips the *PathError wrapping that repeats the path.
func innermost(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Close releases the root (and, for the volume's Store, the journal's
// slots). Operations after Close fail.
func (s *Store) Close() error {
	if s.sh.top == s.root {
		s.sh.journal.close()
	}
	s.rootfMu.Lock()
	if s.rootf != nil {
		s.rootf.Close()
		s.rootf = nil
	}
	s.rootfMu.Unlock()
	return s.root.Close()
}

// Fsync reports whether writes are synced before they are acknowledged.
func (s *Store) Fsync() bool { return s.fsync }

// Ready checks that the root is a readable, writable directory by creating
// and removing a hidden probe file. It backs the readiness probe.
func (s *Store) Ready() error {
	fi, err := s.root.Stat(".")
	if err != nil {
		return wrap("ready", ".", err)
	}
	if !fi.IsDir() {
		return pathErr("ready", ".", ErrNotDir)
	}
	probe := tempPrefix + "probe-" + randomSuffix()
	f, err := s.openNB(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return wrap("ready", ".", err)
	}
	f.Close()
	return wrap("ready", ".", s.root.Remove(probe))
}

// Readable reports whether the root is a readable directory (the http-nas
// health check, GET /file).
func (s *Store) Readable() bool {
	f, err := s.openNB(".", os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.ReadDir(1)
	return err == nil || errors.Is(err, io.EOF)
}

// resolve cleans a request name; every public method starts here.
func resolve(op, name string) (string, error) {
	clean, err := Clean(name)
	if err != nil {
		return "", pathErr(op, name, err)
	}
	return clean, nil
}

// resolveNew is resolve for a name about to be made (a file, a directory,
// the destination of a move or copy): it also refuses a control character
// (U+0000–U+001F, U+007F) anywhere in it. Linux allows them, but a newline
// in a name breaks every line-oriented reader of a listing (GET /file/DIR,
// `while read`), and escapes corrupt terminals. A name put there by
// another program stays reachable: only what davnas makes is refused.
func resolveNew(op, name string) (string, error) {
	clean, err := resolve(op, name)
	if err != nil {
		return "", err
	}
	if strings.ContainsFunc(clean, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", pathErr(op, clean, ErrControlChar)
	}
	return clean, nil
}

// Stat returns the FileInfo of name, following symbolic links that stay
// inside the root.
func (s *Store) Stat(name string) (fs.FileInfo, error) {
	clean, err := resolve("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := s.root.Stat(clean)
	return fi, wrap("stat", clean, err)
}

// Open opens name for reading and returns it with its FileInfo. The result
// is the *os.File itself so that http.ServeContent can hand it to sendfile.
func (s *Store) Open(name string) (*os.File, fs.FileInfo, error) {
	clean, err := resolve("open", name)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.openRead(clean)
	if err != nil {
		return nil, nil, wrap("open", clean, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, wrap("open", clean, err)
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		f.Close()
		return nil, nil, pathErr("open", clean, ErrNotRegular)
	}
	return f, fi, nil
}

// openRead opens clean for reading: a name in a sub-directory in one
// openat2 below the root (openFileBeneath: the openat2 and two fcntl,
// where os.Root's walk makes an openat and a close per directory and a
// refused epoll_ctl for the file); a name in the root itself, or anything
// openat2 does not settle, through os.Root.
func (s *Store) openRead(clean string) (*os.File, error) {
	if strings.IndexByte(clean, '/') >= 0 {
		if root, err := s.rootFile(); err == nil {
			if f, err := openFileBeneath(root, clean); err == nil {
				return f, nil
			}
		}
	}
	return s.openNB(clean, os.O_RDONLY, 0)
}

// openNB opens name inside the root through openNonblock.
func (s *Store) openNB(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return openNonblock(s.root, name, flag, perm)
}

// openNonblock opens name in root with O_NONBLOCK added. For regular files
// and directories the flag changes nothing, but a FIFO opens at once
// instead of waiting for a peer (a request, or the start-up sweep, would
// hang on a FIFO in the volume), and os.File skips the four fcntl calls it
// otherwise spends on every open, making the descriptor non-blocking for
// the poller and back.
//
// Two things the flag does change are put back:
//   - A file under a lease (Samba's oplocks, an NFS server's delegations)
//     fails a conflicting open with EWOULDBLOCK where a blocking open waits
//     for the holder to let go. The kernel has begun the break all the
//     same; the open is retried until the holder's time is up
//     (/proc/sys/fs/lease-break-time), so it waits as long as a blocking
//     open would, without ever blocking on a FIFO.
//   - ENXIO (a FIFO opened for writing without a reader, a socket, a
//     device without a driver) is ErrNotRegular.
func openNonblock(root *os.Root, name string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := root.OpenFile(name, flag|unix.O_NONBLOCK, perm)
	if err != nil && errors.Is(err, unix.EWOULDBLOCK) {
		deadline := time.Now().Add(leaseBreakTime() + time.Second)
		for wait := time.Millisecond; err != nil && errors.Is(err, unix.EWOULDBLOCK) && time.Now().Before(deadline); wait = min(2*wait, 100*time.Millisecond) {
			time.Sleep(wait)
			f, err = root.OpenFile(name, flag|unix.O_NONBLOCK, perm)
		}
	}
	if err != nil && errors.Is(err, unix.ENXIO) {
		return nil, pathErr("open", name, ErrNotRegular)
	}
	return f, err
}

// leaseBreakTime is how long the kernel lets a lease holder take to let go.
var leaseBreakTime = sync.OnceValue(func() time.Duration {
	if b, err := os.ReadFile("/proc/sys/fs/lease-break-time"); err == nil {
		var sec int
		if _, err := fmt.Sscan(string(b), &sec); err == nil && sec >= 0 && sec < 3600 {
			return time.Duration(sec) * time.Second
		}
	}
	return 45 * time.Second
})

// Mkdir creates the directory name; its parent must exist.
func (s *Store) Mkdir(name string, perm fs.FileMode) error {
	clean, err := resolveNew("mkdir", name)
	if err != nil {
		return err
	}
	if clean == "." {
		return pathErr("mkdir", clean, ErrExists)
	}
	if err := s.root.Mkdir(clean, perm); err != nil {
		return wrap("mkdir", clean, err)
	}
	return s.syncDir(parent(clean))
}

// Remove deletes name: a file, a symbolic link (not its target) or a
// directory with everything in it. The root itself cannot be removed.
func (s *Store) Remove(ctx context.Context, name string) error {
	clean, err := resolve("remove", name)
	if err != nil {
		return err
	}
	if clean == "." {
		return pathErr("remove", clean, ErrIsRoot)
	}
	fi, err := s.root.Lstat(clean)
	if err != nil {
		return wrap("remove", clean, err)
	}
	if fi.IsDir() {
		err = s.root.RemoveAll(clean)
	} else {
		err = s.root.Remove(clean)
	}
	if err != nil {
		return wrap("remove", clean, err)
	}
	s.root.Remove(sidecarName(clean))
	return s.syncDir(parent(clean))
}

// MoveOptions tunes Move.
type MoveOptions struct {
	// Overwrite replaces an existing file at the destination (atomically,
	// by rename). A directory at the destination is replaced only with
	// Replace as well.
	Overwrite bool
	// Replace, with Overwrite, lets a directory replace a file or a
	// directory and a file replace a directory (WebDAV MOVE). The old
	// destination is first renamed aside under a hidden name, and renamed
	// back if the move fails, so nothing is lost before the move is sure.
	Replace bool
	// MakeParents creates missing parent directories of the destination.
	MakeParents bool
}

// Move renames from to to, for files and directories alike. It reports
// whether an existing destination was replaced.
func (s *Store) Move(ctx context.Context, from, to string, opt MoveOptions) (replaced bool, err error) {
	src, err := resolve("move", from)
	if err != nil {
		return false, err
	}
	dst, err := resolveNew("move", to)
	if err != nil {
		return false, err
	}
	if src == "." || dst == "." {
		return false, pathErr("move", src, ErrIsRoot)
	}
	sfi, err := s.root.Lstat(src)
	if err != nil {
		return false, wrap("move", src, err)
	}
	if src == dst {
		return false, nil
	}
	if sfi.IsDir() && strings.HasPrefix(dst, src+"/") {
		return false, pathErr("move", dst, ErrIntoItself)
	}
	if opt.MakeParents {
		if err := s.mkdirAll(parent(dst)); err != nil {
			return false, err
		}
	}
	if strings.HasPrefix(src, dst+"/") {
		// Replacing an ancestor would remove the source with it.
		return false, pathErr("move", dst, ErrIntoItself)
	}
	if dfi, err := s.root.Lstat(dst); err == nil {
		if !opt.Overwrite {
			return false, pathErr("move", dst, ErrExists)
		}
		if dfi.IsDir() || sfi.IsDir() {
			if !opt.Replace {
				return false, pathErr("move", dst, ErrIsDir)
			}
			if err := s.replace(src, dst); err != nil {
				return false, err
			}
			s.moveSidecar(src, dst)
			return true, nil
		}
		replaced = true
	}
	if err := s.root.Rename(src, dst); err != nil {
		return false, wrap("move", dst, err)
	}
	s.moveSidecar(src, dst)
	if err := s.syncDir(parent(dst)); err != nil {
		return replaced, err
	}
	if parent(src) != parent(dst) {
		return replaced, s.syncDir(parent(src))
	}
	return replaced, nil
}

// replace renames from over an existing to whose kind differs (or which is
// a directory): to is renamed aside first and back if the rename fails; the
// aside copy is removed only once from is in place.
func (s *Store) replace(from, to string) error {
	aside := joinName(parent(to), tempPrefix+"aside-"+randomSuffix())
	if err := s.root.Rename(to, aside); err != nil {
		return wrap("move", to, err)
	}
	if err := s.root.Rename(from, to); err != nil {
		s.root.Rename(aside, to)
		return wrap("move", to, err)
	}
	if err := s.syncDir(parent(to)); err != nil {
		return err
	}
	if parent(from) != parent(to) {
		if err := s.syncDir(parent(from)); err != nil {
			return err
		}
	}
	return wrap("move", to, s.root.RemoveAll(aside))
}

// mkdirAll creates dir and its missing parents inside the root. With fsync
// on, each new directory's entry is synced in its parent, so a file
// acknowledged in a new directory survives a power loss with its path.
func (s *Store) mkdirAll(dir string) error {
	if dir == "." {
		return nil
	}
	fi, err := s.root.Stat(dir)
	if err == nil {
		if fi.IsDir() {
			return nil
		}
		return pathErr("mkdir", dir, ErrNotDir)
	}
	if c := classify(err); c != ErrNotFound {
		return pathErr("mkdir", dir, c)
	}
	if err := s.mkdirAll(parent(dir)); err != nil {
		return err
	}
	if err := s.root.Mkdir(dir, 0o755); err != nil && classify(err) != ErrExists {
		return wrap("mkdir", dir, err)
	}
	return s.syncDir(parent(dir))
}

// syncDir makes a directory's entries durable when fsync is on.
func (s *Store) syncDir(dir string) error {
	if !s.fsync {
		return nil
	}
	d, err := s.openNB(dir, os.O_RDONLY, 0)
	if err != nil {
		return wrap("sync", dir, err)
	}
	defer d.Close()
	return wrap("sync", dir, d.Sync())
}

func randomSuffix() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SetModTime sets the modification time of name (PROPPATCH of
// getlastmodified, Win32LastModifiedTime; X-OC-Mtime goes through Create).
func (s *Store) SetModTime(name string, t time.Time) error {
	clean, err := resolve("chtimes", name)
	if err != nil {
		return err
	}
	return wrap("chtimes", clean, s.root.Chtimes(clean, time.Time{}, t))
}

// Space reports the volume's size, used and free (for unprivileged users)
// bytes.
func (s *Store) Space() (total, used, free uint64, err error) {
	d, err := s.openNB(".", os.O_RDONLY, 0)
	if err != nil {
		return 0, 0, 0, wrap("statfs", ".", err)
	}
	defer d.Close()
	var st unix.Statfs_t
	if err := control(d, "fstatfs", func(fd int) error { return unix.Fstatfs(fd, &st) }); err != nil {
		return 0, 0, 0, wrap("statfs", ".", err)
	}
	bs := uint64(st.Bsize)
	return st.Blocks * bs, (st.Blocks - st.Bfree) * bs, st.Bavail * bs, nil
}

// Usage reports the volume's free space (for unprivileged users) and the
// space in use, in bytes (RFC 4331 quota-available-bytes, quota-used-bytes).
func (s *Store) Usage() (avail, used uint64, err error) {
	_, used, avail, err = s.Space()
	return avail, used, err
}

// Birth returns the creation time of name where the file system records
// one (statx btime: ext4, xfs, btrfs, tmpfs), for DAV:creationdate.
func (s *Store) Birth(name string) (time.Time, bool) {
	clean, err := resolve("statx", name)
	if err != nil {
		return time.Time{}, false
	}
	f, err := s.openMeta(clean)
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	var stx unix.Statx_t
	err = control(f, "statx", func(fd int) error {
		return unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_BTIME, &stx)
	})
	if err != nil || stx.Mask&unix.STATX_BTIME == 0 {
		return time.Time{}, false
	}
	return time.Unix(stx.Btime.Sec, int64(stx.Btime.Nsec)), true
}

// CheckFree fails with ErrNoSpace when writing extra more bytes would leave
// less than the configured minimum free on the volume. When the free space
// cannot be read, the write is not refused.
func (s *Store) CheckFree(extra int64) error {
	if s.sh.minFree <= 0 {
		return nil
	}
	avail, _, err := s.Usage()
	if err != nil {
		return nil
	}
	if int64(avail)-max(extra, 0) < s.sh.minFree {
		return ErrNoSpace
	}
	return nil
}

// BelowMinFree reports whether the volume already has less free space than
// the configured minimum (readiness fails then).
func (s *Store) BelowMinFree() bool {
	return s.CheckFree(0) != nil
}

// guardWriter checks the free space as a body of unknown size streams in.
// The next check comes after half the headroom left (free space above the
// minimum) or 64 MiB, whichever is less: rarely on a roomy volume, often
// close to the limit.
type guardWriter struct {
	w     io.Writer
	s     *Store
	since int64
	next  int64
}

const maxFreeCheckEvery = 64 << 20

func (g *guardWriter) Write(p []byte) (int, error) {
	g.since += int64(len(p))
	if g.since >= g.next {
		avail, _, err := g.s.Usage()
		if err == nil {
			headroom := int64(avail) - int64(len(p)) - g.s.sh.minFree
			if headroom < 0 {
				return 0, ErrNoSpace
			}
			g.next = min(max(headroom/2, 64<<10), maxFreeCheckEvery)
		} else {
			g.next = maxFreeCheckEvery
		}
		g.since = 0
	}
	return g.w.Write(p)
}

// guard wraps w with the free-space check when a minimum is configured.
func (s *Store) guard(w io.Writer) io.Writer {
	if s.sh.minFree <= 0 {
		return w
	}
	return &guardWriter{w: w, s: s}
}
