package storage

import (
	"context"
	"io/fs"
	"os"
	"strings"
	"time"
)

// staleAfter is how old an unlocked temporary file must be before a sweep
// removes it. The flock already tells a live upload from a dead one; the age
// closes the instant between another process creating its temporary file and
// locking it.
const staleAfter = time.Minute

// SweepTemp removes the temporary files (and directories: copies, and
// destinations set aside by a replace) that a crash (kill -9, node loss)
// left behind, and reports how many it removed. One whose flock is held
// belongs to an upload or copy in progress, here or in another process on
// the same volume, and is kept.
func (s *Store) SweepTemp(ctx context.Context) (int, error) {
	removed := 0
	err := fs.WalkDir(s.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			return nil // unreadable directory: nothing of ours can be in it
		}
		if !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		if s.removeIfStale(name) {
			removed++
		}
		if d.IsDir() {
			return fs.SkipDir // a copy in progress, or removed just now
		}
		return nil
	})
	return removed, err
}

func (s *Store) removeIfStale(name string) bool {
	f, err := s.root.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || time.Since(fi.ModTime()) < staleAfter {
		return false
	}
	if lockFile(f, false) != nil {
		return false // an upload or copy in progress holds it
	}
	if fi.IsDir() {
		return s.root.RemoveAll(name) == nil
	}
	return s.root.Remove(name) == nil
}
