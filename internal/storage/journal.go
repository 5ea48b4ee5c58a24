package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// The append journal makes appends whole or absent across a crash (kill -9,
// OOM kill, node loss). Before an append writes its first byte, it records
// in a journal slot which file it appends to and the file's size before;
// when the append is committed (or rolled back), the slot is cleared. At
// start-up, before anything is served, every slot left by a process that is
// gone (its flock is free) is replayed: the file is truncated back to the
// recorded size. Slots are reused files, so an append costs no create or
// unlink; with --fsync, recording and clearing each add one fdatasync.
const journalDir = ReservedPrefix + "journal"

type journal struct {
	s    *Store // the volume's Store
	mu   sync.Mutex
	free []*os.File // this process's idle slots, open and flocked
	made bool       // the directory exists

	rolledBack []Rollback // what recover truncated, for the log
}

// Rollback is an append a crash cut, undone at start-up: the file Name
// (within the volume) was Torn bytes long and is back to Size.
type Rollback struct {
	Name       string
	Size, Torn int64
}

// RolledBack lists the appends the start-up recovery undone (the volume's
// Store only; nil elsewhere).
func (s *Store) RolledBack() []Rollback {
	if s.sh.top != s.root {
		return nil
	}
	return s.sh.journal.rolledBack
}

// slot is a journal slot recording one append in flight.
type slot struct {
	j *journal
	f *os.File
}

// begin records that the file volName (open as target) is about to be
// appended to from size on. The file is identified by device, inode and
// birth time: an inode number alone can be reused by a file created after
// a crash, which recovery must not touch.
func (j *journal) begin(volName string, target *os.File, size int64) (*slot, error) {
	fi, err := target.Stat()
	if err != nil {
		return nil, err
	}
	key := fileID(fi)
	f, err := j.take()
	if err != nil {
		return nil, err
	}
	rec := fmt.Sprintf("davnas-append v2 %d %d %d %d\n%s\n", key.dev, key.ino, birthNanos(target), size, volName)
	_, err = f.WriteAt([]byte(rec), 0)
	if err == nil {
		err = f.Truncate(int64(len(rec)))
	}
	if err == nil && j.s.fsync {
		err = fdatasync(f)
	}
	if err != nil {
		f.Close() // a slot in an unknown state is not reused
		return nil, err
	}
	return &slot{j: j, f: f}, nil
}

// end clears the slot: the append is committed or rolled back.
func (sl *slot) end() {
	err := sl.f.Truncate(0)
	if err == nil && sl.j.s.fsync {
		err = fdatasync(sl.f)
	}
	if err != nil {
		sl.f.Close()
		return
	}
	sl.j.mu.Lock()
	defer sl.j.mu.Unlock()
	if len(sl.j.free) < maxIdleSlots {
		sl.j.free = append(sl.j.free, sl.f)
		return
	}
	// More idle slots than appends usually run at once: let this one go.
	name := journalDir + "/" + filepath.Base(sl.f.Name())
	sl.f.Close()
	sl.j.s.sh.top.Remove(name)
}

// maxIdleSlots bounds the journal slots kept open between appends.
const maxIdleSlots = 8

// take returns an idle slot of this process, or a new one.
func (j *journal) take() (*os.File, error) {
	j.mu.Lock()
	if n := len(j.free); n > 0 {
		f := j.free[n-1]
		j.free = j.free[:n-1]
		j.mu.Unlock()
		return f, nil
	}
	made := j.made
	j.mu.Unlock()
	top := j.s.sh.top
	if !made {
		if err := top.Mkdir(journalDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		j.mu.Lock()
		j.made = true
		j.mu.Unlock()
	}
	name := journalDir + "/slot-" + randomSuffix()
	f, err := top.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f, false); err != nil {
		f.Close()
		return nil, err
	}
	if j.s.fsync {
		if err := j.s.syncDir(journalDir); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// recover replays the slots of processes that are gone and removes them.
// Slots another live process holds (flocked) are left alone.
func (j *journal) recover() error {
	top := j.s.sh.top
	d, err := top.Open(journalDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := journalDir + "/" + e.Name()
		f, err := top.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if lockFile(f, false) != nil {
			f.Close() // a live process's slot
			continue
		}
		err = j.replay(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		top.Remove(name)
	}
	return nil
}

// replay truncates the file a slot names back to its recorded size, if it
// is still the same file and longer.
func (j *journal) replay(f *os.File) error {
	data, err := io.ReadAll(io.LimitReader(f, MaxPathBytes+256))
	if err != nil || len(data) == 0 {
		return err
	}
	head, rest, ok := bytes.Cut(data, []byte("\n"))
	name, _, ok2 := bytes.Cut(rest, []byte("\n"))
	var dev, ino uint64
	var birth, size int64
	if !ok || !ok2 {
		return nil // a record cut short: its append never wrote
	}
	if _, err := fmt.Sscanf(string(head), "davnas-append v2 %d %d %d %d", &dev, &ino, &birth, &size); err != nil {
		return nil
	}
	// Non-blocking: the name may be a FIFO by now, whose open for writing
	// would wait for a reader and keep the server from starting.
	target, err := openNonblock(j.s.sh.top, string(name), os.O_WRONLY, 0)
	if err != nil {
		return nil // gone, or replaced by a directory or a special file: nothing to roll back
	}
	defer target.Close()
	fi, err := target.Stat()
	if err != nil || !fi.Mode().IsRegular() || fileID(fi) != (fileKey{dev: dev, ino: ino}) || birthNanos(target) != birth || fi.Size() <= size {
		return nil
	}
	if err := target.Truncate(size); err != nil {
		return err
	}
	if err := fdatasync(target); err != nil {
		return err
	}
	j.rolledBack = append(j.rolledBack, Rollback{Name: string(name), Size: size, Torn: fi.Size()})
	return nil
}

// birthNanos is f's creation time in nanoseconds, or 0 where the file
// system keeps none.
func birthNanos(f *os.File) int64 {
	var stx unix.Statx_t
	err := control(f, "statx", func(fd int) error {
		return unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_BTIME, &stx)
	})
	if err != nil || stx.Mask&unix.STATX_BTIME == 0 {
		return 0
	}
	return stx.Btime.Sec*1e9 + int64(stx.Btime.Nsec)
}

// close releases this process's idle slots (their flocks go with them).
func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, f := range j.free {
		f.Close()
	}
	j.free = nil
}
