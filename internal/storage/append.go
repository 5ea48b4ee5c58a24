package storage

import (
	"context"
	"io"
	"io/fs"
	"os"
	"sync"
)

// AppendResult describes a committed append.
type AppendResult struct {
	Info fs.FileInfo
	Size int64 // bytes appended
}

// Append adds src to the end of the existing file name.
//
// Appends to one file never interleave: they are serialized in this process
// by a lock keyed on the file's identity (device and inode, so renames do not
// matter) and between processes sharing the volume by an exclusive flock(2).
// If src fails before its end (the client went away), the file is truncated
// back to its size before the append, so an append is whole or absent. The
// file must exist (http-nas answers 404 otherwise).
func (s *Store) Append(ctx context.Context, name string, src io.Reader) (AppendResult, error) {
	clean, err := resolve("append", name)
	if err != nil {
		return AppendResult{}, err
	}
	if clean == "." {
		return AppendResult{}, pathErr("append", clean, ErrIsDir)
	}
	// The loop runs again only when the name was replaced or moved while
	// this request waited for the lock; appending to the old inode would
	// silently lose the bytes.
	for range 8 {
		f, release, err := s.lockForAppend(ctx, clean)
		if err != nil {
			return AppendResult{}, err
		}
		if f == nil {
			continue
		}
		res, err := s.appendLocked(f, clean, src)
		release()
		return res, err
	}
	return AppendResult{}, pathErr("append", clean, ErrNotFound)
}

// lockForAppend opens name and takes both locks. It returns a nil file when
// the name no longer refers to the file that was locked.
func (s *Store) lockForAppend(ctx context.Context, name string) (*os.File, func(), error) {
	f, err := s.openNB(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, nil, wrap("append", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, wrap("append", name, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, pathErr("append", name, ErrNotRegular)
	}
	unlock, err := s.sh.appends.lock(ctx, fileID(fi))
	if err != nil {
		f.Close()
		return nil, nil, pathErr("append", name, err)
	}
	if err := lockFileCtx(ctx, f); err != nil {
		unlock()
		f.Close()
		if ctx.Err() != nil {
			return nil, nil, pathErr("append", name, ctx.Err())
		}
		return nil, nil, wrap("append", name, err)
	}
	release := func() {
		f.Close() // also drops the flock
		unlock()
	}
	cur, err := s.root.Stat(name)
	if err != nil || !os.SameFile(cur, fi) {
		release()
		if err != nil {
			return nil, nil, wrap("append", name, err)
		}
		return nil, nil, nil
	}
	return f, release, nil
}

func (s *Store) appendLocked(f *os.File, name string, src io.Reader) (AppendResult, error) {
	before, err := f.Stat()
	if err != nil {
		return AppendResult{}, wrap("append", name, err)
	}
	sl, err := s.sh.journal.begin(s.volumeName(name), f, before.Size())
	if err != nil {
		return AppendResult{}, wrap("append", name, err)
	}
	defer sl.end()
	if err := s.CheckFree(0); err != nil {
		return AppendResult{}, pathErr("append", name, err)
	}
	n, err := copyBuffer(s.guard(fileWriter{f}), src)
	if err == nil && s.fsync {
		err = fdatasync(f)
	}
	if err != nil {
		// Roll back: the file ends where it ended before this request.
		if terr := f.Truncate(before.Size()); terr == nil && s.fsync {
			fdatasync(f)
		}
		return AppendResult{}, wrap("append", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return AppendResult{}, wrap("append", name, err)
	}
	s.sh.appendCount.Add(1)
	s.sh.appendedBytes.Add(uint64(n))
	return AppendResult{Info: fi, Size: n}, nil
}

// lockTable serializes work per key (a file's identity for appends, a name
// for commits) inside this process. Waiting honours the request's context,
// so a client that gives up stops waiting.
type lockTable[K comparable] struct {
	mu    sync.Mutex
	locks map[K]*tableLock
}

type tableLock struct {
	ch   chan struct{}
	refs int
}

func (t *lockTable[K]) lock(ctx context.Context, key K) (func(), error) {
	t.mu.Lock()
	if t.locks == nil {
		t.locks = make(map[K]*tableLock)
	}
	l := t.locks[key]
	if l == nil {
		l = &tableLock{ch: make(chan struct{}, 1)}
		t.locks[key] = l
	}
	l.refs++
	t.mu.Unlock()

	done := func() {
		t.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(t.locks, key)
		}
		t.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
