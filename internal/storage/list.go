package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// Entry is one item of a directory listing.
type Entry struct {
	Name    string      `json:"name"`
	Size    int64       `json:"size"`
	ModTime time.Time   `json:"modTime"`
	IsDir   bool        `json:"isDir"`
	Info    fs.FileInfo `json:"-"`
}

// readDirBatch bounds how many entries are held at once while streaming a
// directory.
const readDirBatch = 512

// ReadDir calls fn for every visible entry of the directory name, in the
// order the file system returns them, holding at most one batch of entries
// in memory. Reserved (temporary) entries are skipped. Symbolic links are
// reported as what they point to when that stays inside the root, and are
// skipped when they dangle or point outside: nothing outside the root is
// ever described.
func (s *Store) ReadDir(ctx context.Context, name string, fn func(Entry) error) error {
	clean, err := resolve("readdir", name)
	if err != nil {
		return err
	}
	d, err := s.root.Open(clean)
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
	for {
		if err := ctx.Err(); err != nil {
			return pathErr("readdir", clean, err)
		}
		batch, err := d.ReadDir(readDirBatch)
		for _, de := range batch {
			if IsReserved(de.Name()) {
				continue
			}
			info, ierr := de.Info()
			if ierr != nil {
				continue // removed while we listed
			}
			if info.Mode()&fs.ModeSymlink != 0 {
				target, serr := s.root.Stat(joinName(clean, de.Name()))
				if serr != nil {
					continue
				}
				info = renamed{target, de.Name()}
			}
			e := Entry{Name: de.Name(), Size: info.Size(), ModTime: info.ModTime().UTC(), IsDir: info.IsDir(), Info: info}
			if e.IsDir {
				e.Size = 0
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(batch) == 0) {
			return nil
		}
		if err != nil {
			return wrap("readdir", clean, err)
		}
	}
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
