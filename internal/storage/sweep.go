package storage

import (
	"context"
	"os"
	"strings"
	"time"
)

// StaleAfter is how old an unlocked temporary file must be before a sweep
// removes it. The flock already tells a live upload from a dead one; the age
// only covers the instant between another process creating its temporary
// file and locking it.
const StaleAfter = 2 * time.Second

// SweepTemp removes the temporary files (and directories: copies, and
// destinations set aside by a replace) that a crash (kill -9, node loss)
// left behind, and reports how many it removed. One whose flock is held
// belongs to an upload or copy in progress, here or in another process on
// the same volume, and is kept. Directories are read in batches, so a
// volume of millions of files is swept in constant memory.
//
// young counts the unlocked temporary files not yet StaleAfter old (left by
// a crash just before this start): sweep again after StaleAfter for them.
func (s *Store) SweepTemp(ctx context.Context) (removed, young int, err error) {
	c := sweepCount{}
	err = s.sweepDir(ctx, ".", 0, &c)
	return c.removed, c.young, err
}

type sweepCount struct{ removed, young int }

func (s *Store) sweepDir(ctx context.Context, dir string, depth int, c *sweepCount) error {
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
				switch s.removeIfStale(name) {
				case swept:
					c.removed++
				case tooYoung:
					c.young++
				}
			case de.IsDir():
				if err := s.sweepDir(ctx, name, depth+1, c); err != nil {
					return err
				}
			}
		}
		if err != nil || len(batch) == 0 {
			return nil
		}
	}
}

type sweepResult int

const (
	kept sweepResult = iota
	swept
	tooYoung
)

func (s *Store) removeIfStale(name string) sweepResult {
	f, err := s.root.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return kept
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return kept
	}
	if lockFile(f, false) != nil {
		return kept // an upload or copy in progress holds it
	}
	if time.Since(fi.ModTime()) < StaleAfter {
		return tooYoung
	}
	if fi.IsDir() {
		err = s.root.RemoveAll(name)
	} else {
		err = s.root.Remove(name)
	}
	if err != nil {
		return kept
	}
	return swept
}
