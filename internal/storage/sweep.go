package storage

import (
	"context"
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
// the same volume, and is kept. Directories are read in batches, so a
// volume of millions of files is swept in constant memory.
func (s *Store) SweepTemp(ctx context.Context) (int, error) {
	removed := 0
	err := s.sweepDir(ctx, ".", 0, &removed)
	return removed, err
}

func (s *Store) sweepDir(ctx context.Context, dir string, depth int, removed *int) error {
	if depth > maxCopyDepth {
		return nil
	}
	d, err := s.root.Open(dir)
	if err != nil {
		return nil // unreadable or gone: nothing of ours can be swept there
	}
	defer d.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := d.ReadDir(readDirBatch)
		for _, de := range batch {
			name := joinName(dir, de.Name())
			switch {
			case strings.HasPrefix(de.Name(), tempPrefix):
				if s.removeIfStale(name) {
					*removed++
				}
			case de.IsDir():
				if err := s.sweepDir(ctx, name, depth+1, removed); err != nil {
					return err
				}
			}
		}
		if err != nil || len(batch) == 0 {
			return nil
		}
	}
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
