package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Entry is one item of a directory listing.
type Entry struct {
	Name    string      `json:"name"`
	Size    int64       `json:"size"`
	ModTime time.Time   `json:"modTime"`
	IsDir   bool        `json:"isDir"`
	Info    fs.FileInfo `json:"-"`

	// What ReadDirMeta read besides the stat, when asked (ListMeta) and
	// the fast path could settle it; otherwise the caller asks Store.Birth
	// and Store.Props by name. A symbolic link's are never read here.
	Birth     time.Time `json:"-"`
	HasBirth  bool      `json:"-"` // Birth is set: the file system keeps birth times
	BirthRead bool      `json:"-"` // the birth time was looked up (HasBirth tells the answer)
	Props     Props     `json:"-"` // the dead properties, nil when there are none
	PropsRead bool      `json:"-"` // Props was read
}

// ListMeta asks ReadDirMeta for more of each member than its stat.
type ListMeta uint8

const (
	MetaBirth ListMeta = 1 << iota // Entry.Birth: the birth time (creationdate)
	MetaProps                      // Entry.Props: the dead properties
)

// readDirBatch bounds how many entries are held at once while streaming a
// directory.
const readDirBatch = 512

// ReadDir calls fn for every visible entry of the directory name, in the
// order the file system returns them, holding at most three batches of
// entries in memory. Reserved (temporary) entries are skipped. Symbolic
// links are reported as what they point to when that stays inside the root,
// and are skipped when they dangle or point outside: nothing outside the
// root is ever described. FIFOs, sockets and devices are skipped too:
// Store.Open refuses them, and a client syncing the directory would fail
// on each.
//
// The names are read and stat'ed by a goroutine one batch ahead of fn: the
// one stat per entry is most of a listing's system time and fn's work
// (PROPFIND's XML) most of its user time, and on two cores they overlap.
func (s *Store) ReadDir(ctx context.Context, name string, fn func(Entry) error) error {
	return s.ReadDirMeta(ctx, name, 0, fn)
}

// ReadDirMeta is ReadDir that also reads, in the same pass and relative to
// the directory, what meta asks of each member (see Entry).
func (s *Store) ReadDirMeta(ctx context.Context, name string, meta ListMeta, fn func(Entry) error) error {
	clean, err := resolve("readdir", name)
	if err != nil {
		return err
	}
	d, err := s.openNB(clean, os.O_RDONLY, 0)
	if err != nil {
		return wrap("readdir", clean, err)
	}
	defer d.Close()
	fi, err := d.Stat()
	if err != nil {
		return wrap("readdir", clean, err)
	}
	if !fi.IsDir() {
		return pathErr("readdir", clean, ErrNotDir)
	}
	type batch struct {
		entries []Entry
		err     error // io.EOF at the end
	}
	batches := make(chan batch, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait() // before d.Close, deferred above
	defer close(stop)
	wg.Go(func() {
		defer close(batches)
		bp := direntBufs.Get().(*[]byte)
		defer direntBufs.Put(bp)
		var sc sidecarSet
		if meta&MetaProps != 0 && !noXattrat.Load() {
			// Its only error is the rewind's: the pass itself leaves
			// the set unknown when it fails.
			err := control(d, "lseek", func(fd int) error {
				var err error
				sc, err = findSidecars(fd, *bp)
				return err
			})
			if err != nil {
				select {
				case batches <- batch{err: wrap("readdir", clean, err)}:
				case <-stop:
				}
				return
			}
		}
		for {
			if ctx.Err() != nil {
				return // the caller sees the cancellation itself
			}
			var names []string
			var eof bool
			err := control(d, "getdents64", func(fd int) error {
				var err error
				names, eof, err = readNames(fd, *bp, readDirBatch)
				return err
			})
			b := batch{entries: s.statBatch(d, clean, names, meta, &sc), err: err}
			switch {
			case err != nil:
				b.err = wrap("readdir", clean, err)
			case eof:
				b.err = io.EOF
			}
			select {
			case batches <- b:
			case <-stop:
				return
			}
			if b.err != nil {
				return
			}
		}
	})
	for b := range batches {
		if err := ctx.Err(); err != nil {
			return pathErr("readdir", clean, err)
		}
		for _, e := range b.entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		if errors.Is(b.err, io.EOF) {
			return nil
		}
		if b.err != nil {
			return b.err
		}
	}
	// The reader stopped early: only a cancellation does that.
	if err := ctx.Err(); err != nil {
		return pathErr("readdir", clean, err)
	}
	return nil
}

// statBatch describes the names read from the directory d (clean), with
// one fstatat(2) each relative to d: no path walk, no *os.File machinery
// and no allocation per entry. meta asks for more (memberMeta).
//
// A large batch is split among up to statWorkers goroutines, one per core:
// the stats are almost all of a listing's time (system time, a few µs each
// on a virtual machine), and the kernel answers them in parallel. The
// entries keep the directory's order.
func (s *Store) statBatch(d *os.File, clean string, names []string, meta ListMeta, sc *sidecarSet) []Entry {
	entries := make([]Entry, len(names)) // one allocation each for the batch
	infos := make([]statInfo, len(names))
	workers := min(runtime.GOMAXPROCS(0), statWorkers, len(names)/minStatChunk)
	if workers <= 1 {
		s.statRange(d, clean, names, meta, entries, infos, sc)
	} else {
		chunk := (len(names) + workers - 1) / workers
		var wg sync.WaitGroup
		for lo := chunk; lo < len(names); lo += chunk {
			hi := min(lo+chunk, len(names))
			wg.Go(func() { s.statRange(d, clean, names[lo:hi], meta, entries[lo:hi], infos[lo:hi], sc) })
		}
		s.statRange(d, clean, names[:chunk], meta, entries[:chunk], infos[:chunk], sc)
		wg.Wait()
	}
	// Drop what statRange left unnamed (reserved, removed, skipped).
	return slices.DeleteFunc(entries, func(e Entry) bool { return e.Name == "" })
}

// statWorkers bounds the goroutines statBatch uses for one batch, and
// minStatChunk is the fewest names worth handing to one: below it the
// hand-over costs about what it saves.
const (
	statWorkers  = 4
	minStatChunk = 64
)

// statRange fills entries[i] for each names[i] that is listed, and leaves
// the others zero (no Name). infos holds the stats the entries point to.
func (s *Store) statRange(d *os.File, clean string, names []string, meta ListMeta, entries []Entry, infos []statInfo, sc *sidecarSet) {
	var xbuf, side []byte
	if meta&MetaProps != 0 {
		xbuf = make([]byte, metaXattrBuf)
	}
	control(d, "fstatat", func(fd int) error {
		for i, n := range names {
			if IsReserved(n) {
				continue
			}
			info := &infos[i]
			info.name = n
			var birth birthTime
			if err := statMember(fd, n, &info.st, meta&MetaBirth != 0, &birth); err != nil {
				continue // removed while we listed
			}
			var fi fs.FileInfo = info
			if info.Mode()&fs.ModeSymlink != 0 {
				target, err := s.root.Stat(joinName(clean, n))
				if err != nil {
					continue
				}
				fi = renamed{target, n}
			}
			if !fi.Mode().IsRegular() && !fi.IsDir() {
				continue // a FIFO, socket or device: nothing a client can read
			}
			e := &entries[i]
			*e = Entry{Name: n, Size: fi.Size(), ModTime: fi.ModTime().UTC(), IsDir: fi.IsDir(), Info: fi}
			if e.IsDir {
				e.Size = 0
			}
			if meta != 0 && fi == fs.FileInfo(info) {
				want := meta
				if birth.read { // with the stat
					e.Birth, e.HasBirth, e.BirthRead = birth.t, birth.ok, true
					want &^= MetaBirth
				}
				side = memberMeta(fd, n, want, e, xbuf, side, sc)
			}
		}
		return nil
	})
}

// List returns the visible entries of the directory name sorted by name.
func (s *Store) List(ctx context.Context, name string) ([]Entry, error) {
	var out []Entry
	err := s.ReadDir(ctx, name, func(e Entry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Lines counts the lines of the file name the way http-nas did: every "\n"
// ends a line, and a last line without one counts too ("a\nb" has 2 lines,
// the empty file 0). It streams the file through a pooled buffer, so it runs
// at the speed of the disk whatever the file's size.
func (s *Store) Lines(ctx context.Context, name string) (int64, error) {
	f, fi, err := s.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if fi.IsDir() {
		return 0, pathErr("wc", name, ErrIsDir)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var lines int64
	last := byte('\n')
	for {
		if err := ctx.Err(); err != nil {
			return 0, pathErr("wc", name, err)
		}
		n, err := f.Read(buf)
		if n > 0 {
			lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
			last = buf[n-1]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, wrap("wc", name, err)
		}
	}
	if last != '\n' {
		lines++
	}
	return lines, nil
}
